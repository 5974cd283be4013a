#   Embeds schema/NNN_name.sql into a C file, in order, so the binaries need
#   no files at run time. Run as: cmake -DOUT=file.c -DSCHEMA_DIR=dir -P this
include("${CMAKE_CURRENT_LIST_DIR}/../cmake/zb_write_if_changed.cmake")
file(GLOB files "${SCHEMA_DIR}/[0-9][0-9][0-9]_*.sql")
list(SORT files)
set(body "")
set(expect 1)
foreach(file ${files})
    get_filename_component(name "${file}" NAME)
    string(SUBSTRING "${name}" 0 3 number)
    math(EXPR version "${number}")
    if(NOT version EQUAL expect)
        message(FATAL_ERROR "schema: ${name}: expected version ${expect} (no gaps, no duplicates)")
    endif()
    math(EXPR expect "${expect} + 1")
    file(READ "${file}" sql)
    string(REPLACE "\\" "\\\\" sql "${sql}")
    string(REPLACE "\"" "\\\"" sql "${sql}")
    string(REPLACE "\n" "\\n\"\n    \"" sql "${sql}")
    string(APPEND body "    {${version}, \"${name}\",\n    \"${sql}\"},\n")
endforeach()
if(expect EQUAL 1)
    message(FATAL_ERROR "schema: no NNN_name.sql files in ${SCHEMA_DIR}")
endif()
set(text "//  Generated from schema/NNN_name.sql by store/embed_schema.cmake: do not edit.
#include \"zb_schema.h\"

const zb_schema_step_t zb_schema_steps[] = {
${body}};
const int zb_schema_step_count = (int) (sizeof(zb_schema_steps) / sizeof(zb_schema_steps[0]));
")
zb_write_if_changed("${OUT}" "${text}")
