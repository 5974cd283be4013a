#   zb_write_if_changed(PATH TEXT): writes TEXT to PATH unless it already
#   holds exactly that, so that what depends on PATH is not rebuilt for
#   nothing. For the cmake -P scripts that generate sources
#   (store/embed_schema.cmake, monitor/www/embed_www.cmake).
function(zb_write_if_changed path text)
    set(old "")
    if(EXISTS "${path}")
        file(READ "${path}" old)
    endif()
    if(NOT "${old}" STREQUAL "${text}")
        file(WRITE "${path}" "${text}")
    endif()
endfunction()
