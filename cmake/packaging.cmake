#   Packaging: man pages, systemd units and example configurations for
#   `cmake --install`, and a Debian package built with `cpack -G DEB`.
#
#   Included once from the top CMakeLists.txt (or through
#   -DCMAKE_PROJECT_INCLUDE=cmake/packaging.cmake). The binaries' own install
#   rules live with their targets (agent/, monitor/, cli/, client/).
#
#   The Debian package must be built from a tree configured with
#   -DCMAKE_INSTALL_PREFIX=/usr: the units name the binaries and the
#   configuration by their configured absolute paths, and /usr is what makes
#   them /usr/bin/... and /etc/zbeat/... (tests/packaging/run.sh does this).
include_guard(GLOBAL)
include(GNUInstallDirs)

set(ZB_DIST_DIR ${PROJECT_SOURCE_DIR}/dist)
set(ZB_DIST_OUT ${CMAKE_BINARY_DIR}/dist)
#   Not GNUInstallDirs' LIBDIR: units never go to a multiarch directory.
#   Relative, so a /usr/local install lands in /usr/local/lib/systemd/system,
#   which systemd searches too.
set(ZB_SYSTEMD_UNITDIR "lib/systemd/system"
    CACHE STRING "Where the systemd units go, relative to the prefix or absolute")

#   Man pages, compressed as Debian policy wants them (man reads them as they
#   are); `mandoc -T lint` checks the sources in man/.
find_program(ZB_GZIP gzip REQUIRED)
set(ZB_MAN_PAGES zbeat.1 zbeat-ping.1 zbeat.conf.5 zbeat-agent.8 zbeat-monitor.8 zbeat-relay.8)
set(ZB_MAN_GZ)
foreach(page ${ZB_MAN_PAGES})
    string(REGEX MATCH "[0-9]$" section ${page})
    set(gz ${ZB_DIST_OUT}/man/${page}.gz)
    #   -n: no name or time stamp inside, so the package is reproducible.
    add_custom_command(OUTPUT ${gz}
                       COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/man/${page}
                               ${ZB_DIST_OUT}/man/${page}
                       COMMAND ${ZB_GZIP} -9nf ${ZB_DIST_OUT}/man/${page}
                       DEPENDS ${PROJECT_SOURCE_DIR}/man/${page}
                       VERBATIM)
    list(APPEND ZB_MAN_GZ ${gz})
    install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
file(MAKE_DIRECTORY ${ZB_DIST_OUT}/man)
add_custom_target(zb-man ALL DEPENDS ${ZB_MAN_GZ})

#   systemd units, with the configured paths of the binaries and the
#   configuration. The binaries go to BINDIR (their install rules).
set(ZB_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(ZB_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
foreach(unit zbeat-agent.service zbeat-monitor.service zbeat-relay.service)
    configure_file(${ZB_DIST_DIR}/systemd/${unit}.in ${ZB_DIST_OUT}/systemd/${unit} @ONLY)
    install(FILES ${ZB_DIST_OUT}/systemd/${unit} DESTINATION ${ZB_SYSTEMD_UNITDIR})
endforeach()

#   Example configurations. In the Debian package they are conffiles: an
#   upgrade never overwrites the administrator's edits. (`cmake --install`
#   does overwrite them, as it does every file it installs.)
set(ZB_CONFFILES ${ZB_SYSCONFDIR}/zbeat/agent.cfg ${ZB_SYSCONFDIR}/zbeat/monitor.cfg)
install(FILES ${ZB_DIST_DIR}/config/agent.cfg ${ZB_DIST_DIR}/config/monitor.cfg
        DESTINATION ${ZB_SYSCONFDIR}/zbeat)

#   The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zbeat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR zbeat)
set(CPACK_PACKAGE_CONTACT "zbeat maintainers <zbeat@localhost>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed service-liveness monitor")
#   One paragraph, no semicolons (CMake would take them for list separators).
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "An agent on every host holds persistent TCP heartbeats with that host's\n"
       "services, and takes heartbeats from services that call in. It publishes\n"
       "their state over ZeroMQ. A central monitor records every outage in SQLite\n"
       "and flags hosts whose agents go silent. The zbeat command shows what is\n"
       "down now and what went down, when, for how long.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # zbeat_0.1.0-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
#   passwd: postinst's useradd and groupadd. procps: the units' ExecReload
#   runs /bin/kill, which minimal systems (debian:bookworm-slim) lack. The
#   libraries come from dpkg-shlibdeps, which reads what the binaries really
#   link (libczmq4, libzmq5, libsqlite3-0, libjansson4, libyajl2, libc-ares2, libgnutls30 or
#   libssl3 for the agent's TLS as ZB_TLS says, and libcurl4 once the monitor links it).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, procps")
find_program(ZB_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(ZB_DPKG_SHLIBDEPS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS
           ", libc6, libczmq4, libzmq5, libsqlite3-0, libjansson4, libyajl2, libc-ares2, libgnutls30, libssl3, libcurl4")
endif()

#   Maintainer scripts, and conffiles with the configured paths.
set(ZB_CONTROL_DIR ${ZB_DIST_OUT}/debian)
list(JOIN ZB_CONFFILES "\n" conffiles)
file(WRITE ${ZB_CONTROL_DIR}/conffiles "${conffiles}\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${ZB_CONTROL_DIR}/conffiles)
foreach(script postinst prerm postrm)
    list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${ZB_DIST_DIR}/debian/${script})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

#   Checked when cpack runs: a DEB of a /usr/local tree would put units that
#   name /usr/local/bin into a package that dpkg owns.
set(CPACK_PROJECT_CONFIG_FILE ${ZB_DIST_OUT}/cpack-options.cmake)
file(WRITE ${CPACK_PROJECT_CONFIG_FILE} [=[
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "zbeat: the Debian package needs a build configured with "
                        "-DCMAKE_INSTALL_PREFIX=/usr (this one: ${CPACK_PACKAGING_INSTALL_PREFIX})")
endif()
]=])

include(CPack)
