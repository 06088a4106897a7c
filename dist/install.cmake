# Installation (SPEC §12), included by the top CMakeLists.txt: hubd and hubctl in bin/, the man
# pages, and two things made at install time for the prefix actually used (cmake --install
# --prefix may differ from the configured one): the FHS example configs in etc/hub/ (from
# conf/*.yaml, paths made absolute) and hubd@.service in lib/systemd/system/ (its ExecStart is
# the installed hubd). Debian's build passes CMAKE_INSTALL_SYSCONFDIR=/etc and
# HUB_SYSTEMD_UNITDIR=/lib/systemd/system.
include(GNUInstallDirs)
set(HUB_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING "where hubd@.service goes (relative: under the prefix)")

install(TARGETS hubd hubctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/man/hubd.8 ${CMAKE_SOURCE_DIR}/man/hubctl.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/man/hub.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(CODE "
set(HUB_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(HUB_STAGE_DIR \"${CMAKE_BINARY_DIR}/dist-stage\")
set(HUB_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(HUB_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
set(HUB_SYSTEMD_UNITDIR \"${HUB_SYSTEMD_UNITDIR}\")
")
install(SCRIPT ${CMAKE_SOURCE_DIR}/dist/stage.cmake)
