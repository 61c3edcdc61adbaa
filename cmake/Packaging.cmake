# Debian packages, built by CPack from what build/ holds already:
#
#   cpack --config build/CPackConfig.cmake -B build/packages
#
# (scripts/check-packages runs it and installs the result). Three packages:
#   cohort-common  (all)    the `cohort` user (sysusers.d), /etc/cohort, the
#                           operations guide the units name;
#   cohort-server  (amd64)  cohort-server, cohortctl, cohort-server.service,
#                           /etc/cohort/server.textproto (a conffile), state
#                           in /var/lib/cohort-server;
#   cohort-agent   (amd64)  cohort-agent, cohort-agent.service,
#                           /etc/cohort/agent.textproto (a conffile), state
#                           in /var/lib/cohort-agent.
# Versions are the project's (0.5.0-1). The two daemons depend on
# cohort-common of the same version, and on the
# shared libraries dpkg-shlibdeps finds in their binaries. Binaries are
# stripped. Maintainer scripts are in deploy/debian/<component>/.
#
# Packaging never compiles: `preinstall` does not depend on `all`, so cpack
# packs the binaries scripts/build made (and fails if they are missing).

set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(_cohort_debian ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian)
set(_cohort_systemd ${CMAKE_CURRENT_SOURCE_DIR}/deploy/systemd)

# cohort-common
install(FILES ${_cohort_systemd}/cohort.sysusers.conf
        DESTINATION lib/sysusers.d RENAME cohort.conf COMPONENT common)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/docs/OPERATIONS.md
        DESTINATION share/doc/cohort COMPONENT common)
install(DIRECTORY DESTINATION /etc/cohort COMPONENT common)

# cohort-server
install(TARGETS cohort-server cohortctl RUNTIME DESTINATION bin
        COMPONENT server)
install(FILES ${_cohort_systemd}/cohort-server.service
        DESTINATION lib/systemd/system COMPONENT server)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/configs/server.textproto
        DESTINATION /etc/cohort COMPONENT server)

# cohort-agent
install(TARGETS cohort-agent RUNTIME DESTINATION bin COMPONENT agent)
install(FILES ${_cohort_systemd}/cohort-agent.service
        DESTINATION lib/systemd/system COMPONENT agent)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/configs/agent.textproto
        DESTINATION /etc/cohort COMPONENT agent)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cohort)
# The project's version (project() in CMakeLists.txt), which --version prints.
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Cohort")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL common server agent)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Cohort maintainers <cohort@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# CPACK_COMPONENT_<C>_DEPENDS becomes "Depends: cohort-common (= version)".
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_COMMON_PACKAGE_NAME cohort-common)
set(CPACK_DEBIAN_COMMON_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_COMMON_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_COMMON_PACKAGE_CONTROL_EXTRA ${_cohort_debian}/common/postinst)
string(CONCAT CPACK_COMPONENT_COMMON_DESCRIPTION
    "Cohort federated learning: the cohort user and /etc/cohort\n"
    "The system user and group the Cohort coordinator and agent run as,\n"
    "created with systemd-sysusers (or useradd), the configuration directory\n"
    "and the operations guide.")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME cohort-server)
set(CPACK_COMPONENT_SERVER_DEPENDS common)
# LibTorch works with any libblas.so.3; OpenBLAS is the fast one.
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "libopenblas0-pthread")
set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    "${_cohort_debian}/server/conffiles;${_cohort_debian}/server/postinst;${_cohort_debian}/server/prerm;${_cohort_debian}/server/postrm")
string(CONCAT CPACK_COMPONENT_SERVER_DESCRIPTION
    "Cohort federated learning coordinator\n"
    "cohort-server runs federated training rounds for device agents over gRPC\n"
    "with mutual TLS, keeps signed model versions in PostgreSQL or a directory\n"
    "store, and serves Prometheus metrics; cohortctl is its operator tool.\n"
    "Runs as a systemd service (Type=notify, sandboxed).")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME cohort-agent)
set(CPACK_COMPONENT_AGENT_DEPENDS common)
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "libopenblas0-pthread")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${_cohort_debian}/agent/conffiles;${_cohort_debian}/agent/postinst;${_cohort_debian}/agent/prerm;${_cohort_debian}/agent/postrm")
string(CONCAT CPACK_COMPONENT_AGENT_DESCRIPTION
    "Cohort federated learning device agent\n"
    "cohort-agent fine-tunes the coordinator's model on data that stays on the\n"
    "device, in the machine's idle time, and uploads clipped model deltas.\n"
    "Runs as a systemd service (Type=notify, sandboxed, idle priority).")

include(CPack)
