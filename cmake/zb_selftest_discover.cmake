#   cmake -D EXE=path -D OUT=file -P zb_selftest_discover.cmake: writes one
#   add_test(unit_NAME EXE NAME) per line of `EXE --list` into OUT.
execute_process(COMMAND ${EXE} --list OUTPUT_VARIABLE names RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} --list failed (${rc})")
endif()
string(REGEX REPLACE "\n$" "" names "${names}")
string(REPLACE "\n" ";" names "${names}")
set(text "")
foreach(name IN LISTS names)
    string(APPEND text "add_test(unit_${name} \"${EXE}\" \"${name}\")\n")
endforeach()
file(WRITE ${OUT}.new "${text}")
#   Rewritten only when the list changes: ctest reads it, nothing rebuilds.
configure_file(${OUT}.new ${OUT} COPYONLY)
file(REMOVE ${OUT}.new)
