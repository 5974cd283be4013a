#   What the main tree and bench/'s standalone build (bench/run.sh) share,
#   so that the two cannot drift apart: the C dialect, flags that keep
#   asserts on, the warnings, and the libraries common/ (zbcommon) links.
set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS ON) # _GNU_SOURCE-level POSIX (clock_gettime, open_memstream, epoll)
#   Asserts stay on in every build: they guard programmer errors, and the
#   self-tests are written with them.
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O2 -g" CACHE STRING "" FORCE)
set(CMAKE_C_FLAGS_RELEASE "-O2" CACHE STRING "" FORCE)

option(ZB_WERROR "Treat warnings as errors (CI turns this on)" OFF)
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wpointer-arith -Wformat=2 -Wno-format-nonliteral)
if(ZB_WERROR)
    add_compile_options(-Werror)
endif()

find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(CZMQ REQUIRED IMPORTED_TARGET libczmq)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(YAJL REQUIRED IMPORTED_TARGET yajl) # the wire decoder
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium) # liveness datagrams (zb_datagram)
