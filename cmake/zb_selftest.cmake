#   zb_selftest_add_tests(TARGET): one ctest entry, unit_NAME, per test in
#   the runner's table, so that adding a self-test is one edit (the table in
#   the runner's .c file). As gtest_discover_tests does: after each build the
#   binary is asked for its names (`TARGET --list`), and ctest includes the
#   resulting list when it runs.
set(ZB_SELFTEST_DISCOVER ${CMAKE_CURRENT_LIST_DIR}/zb_selftest_discover.cmake)

function(zb_selftest_add_tests target)
    set(list_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake)
    set(include_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake)
    add_custom_command(
        TARGET ${target} POST_BUILD
        COMMAND ${CMAKE_COMMAND} -D EXE=$<TARGET_FILE:${target}> -D OUT=${list_file}
                -P ${ZB_SELFTEST_DISCOVER}
        BYPRODUCTS ${list_file}
        COMMENT "Listing the self-tests of ${target}"
        VERBATIM)
    #   Before the first build there is no list yet: say so rather than
    #   silently running no unit tests.
    file(WRITE ${include_file}
         "if(EXISTS \"${list_file}\")\n"
         "    include(\"${list_file}\")\n"
         "else()\n"
         "    add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
         "endif()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()
