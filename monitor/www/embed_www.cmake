#   Embeds the status page (monitor/www/*.html, *.js, *.css) into a C file,
#   so the monitor serves it with no files to find at run time and no build
#   step beyond this. Run as: cmake -DOUT=file.c -DWWW_DIR=dir -P this
include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/zb_write_if_changed.cmake")
file(GLOB files "${WWW_DIR}/*.html" "${WWW_DIR}/*.js" "${WWW_DIR}/*.css")
list(SORT files)
set(body "")
set(table "")
set(index 0)
foreach(file ${files})
    get_filename_component(name "${file}" NAME)
    get_filename_component(ext "${file}" LAST_EXT)
    if(ext STREQUAL ".html")
        set(type "text/html; charset=utf-8")
    elseif(ext STREQUAL ".js")
        set(type "text/javascript; charset=utf-8")
    else()
        set(type "text/css; charset=utf-8")
    endif()
    file(READ "${file}" hex HEX)
    string(LENGTH "${hex}" hexlen)
    math(EXPR size "${hexlen} / 2")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    #   Lines of 16 bytes, to keep the generated file readable by tools.
    string(REGEX REPLACE "((0x..,){16})" "\\1\n    " bytes "${bytes}")
    string(APPEND body "static const unsigned char s_file${index}[] = {\n    ${bytes}};\n")
    string(APPEND table "    {\"/${name}\", \"${type}\", s_file${index}, ${size}},\n")
    math(EXPR index "${index} + 1")
endforeach()
if(index EQUAL 0)
    message(FATAL_ERROR "www: no files in ${WWW_DIR}")
endif()
set(text "//  Generated from monitor/www by monitor/www/embed_www.cmake: do not edit.
#include \"zb_http.h\"

${body}
const zb_http_asset_t zb_http_assets[] = {
${table}};
const size_t zb_http_asset_count = ${index};
")
zb_write_if_changed("${OUT}" "${text}")
