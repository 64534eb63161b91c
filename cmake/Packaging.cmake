# The Debian package: `cpack -G DEB --config BUILD/CPackConfig.cmake` after a build makes
# aura-agent_<version>_<arch>.deb. Included from the top-level CMakeLists.txt after the install()
# rules, whose layout the package takes as is. This file adds the man page, copyright and
# changelog.gz (which `cmake --install` installs too), and what only the package has: the
# conffile /etc/aura-agent/agent.toml, the maintainer scripts, the control fields.
# docs/INSTALL.md ("Debian package") explains what the package does on install, upgrade, remove
# and purge; scripts/check-deb tests it (ctest -R DebPackage).

set(AURA_PACKAGE_MAINTAINER
  "Aura Sync Agent maintainers <maintainers@users.noreply.b-seed-efb119ed.example>"
  CACHE STRING "Maintainer field of the Debian package: Name <address>")

set(AURA_DEB_DIR ${PROJECT_SOURCE_DIR}/packaging/deb)
set(AURA_PACKAGING_OUT ${PROJECT_BINARY_DIR}/packaging)

# packaging/deb/changelog is the package's history; its top entry must be this version, or the
# package would claim a version its changelog does not describe.
file(STRINGS ${AURA_DEB_DIR}/changelog AURA_CHANGELOG_TOP LIMIT_COUNT 1)
if(NOT AURA_CHANGELOG_TOP MATCHES "^aura-agent \\(([^)]+)\\)")
  message(FATAL_ERROR "packaging/deb/changelog: the first line must be "
    "'aura-agent (VERSION) ...'; it is '${AURA_CHANGELOG_TOP}'")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "packaging/deb/changelog: the newest entry is version ${CMAKE_MATCH_1}, "
    "the project is ${PROJECT_VERSION}: add an entry for ${PROJECT_VERSION} at the top")
endif()

# Debian wants the changelog and man pages compressed with gzip -9n (-n: no name or timestamp
# in the header, so the same input always gives the same bytes).
find_program(AURA_GZIP gzip REQUIRED)
function(aura_gzip_file source output)
  get_filename_component(plain ${output} NAME_WLE)
  add_custom_command(OUTPUT ${AURA_PACKAGING_OUT}/${output}
    COMMAND ${CMAKE_COMMAND} -E copy ${source} ${AURA_PACKAGING_OUT}/${plain}
    COMMAND ${AURA_GZIP} -9nf ${AURA_PACKAGING_OUT}/${plain}
    DEPENDS ${source}
    COMMENT "gzip -9n ${output}"
    VERBATIM)
endfunction()
aura_gzip_file(${AURA_DEB_DIR}/changelog changelog.gz)
configure_file(${PROJECT_SOURCE_DIR}/docs/aura-agent.1.in ${AURA_PACKAGING_OUT}/aura-agent.1.in @ONLY)
aura_gzip_file(${AURA_PACKAGING_OUT}/aura-agent.1.in aura-agent.1.gz)
add_custom_target(aura-packaging-files ALL
  DEPENDS ${AURA_PACKAGING_OUT}/changelog.gz ${AURA_PACKAGING_OUT}/aura-agent.1.gz)

install(FILES ${AURA_PACKAGING_OUT}/aura-agent.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${AURA_DEB_DIR}/copyright ${AURA_PACKAGING_OUT}/changelog.gz
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/aura-agent)

# The default config, only in the package (component deb-conffiles, not part of a plain
# `cmake --install`, which must never overwrite a configured /etc/aura-agent/agent.toml). Shipped
# 0644 like any conffile; the postinst makes it 0640 root:aura-agent once the group exists.
install(FILES ${AURA_DEB_DIR}/agent.toml DESTINATION /etc/aura-agent
  COMPONENT deb-conffiles EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aura-agent)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${AURA_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "backup, replication and restore drills for SQLite databases")
# CPack turns the blank lines into the " ." paragraph separators of debian/control.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION [=[
The Aura Sync Agent keeps SQLite databases safe while the application keeps
writing. It takes consistent snapshots of live databases (full and
incremental), ships every committed transaction continuously from the WAL,
and compresses (zstd), encrypts (AES-256-GCM) and checksums (SHA-256)
everything it stores in a local folder or an S3-compatible bucket.

As a service it runs hourly, daily, weekly and monthly snapshot policies with
retention, checks the live databases, verifies every stored object and runs
restore drills on schedule, and reports over a local status socket (JSON,
Prometheus metrics, health). It restores to any snapshot or point in time,
and applies schema migrations with a pre-migration snapshot.

The package installs a hardened systemd unit and a service user; the service
is not enabled until the administrator has written /etc/aura-agent/agent.toml.]=])
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The README names no project homepage, so the control file has no Homepage field.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Libraries from dpkg-shlibdeps; passwd for useradd, which the postinst falls back to where
# systemd-sysusers is missing, and procps for the unit's ExecReload=/bin/kill (both Priority
# required/important, not Essential: a minimal container lacks procps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, procps")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Absolute destinations (/etc/aura-agent) go under the staging directory, not onto this host.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
# The default project install plus the conffile component.
set(CPACK_INSTALL_CMAKE_PROJECTS
  "${PROJECT_BINARY_DIR};aura_agent;ALL;/"
  "${PROJECT_BINARY_DIR};aura_agent;deb-conffiles;/")
# Directories 0755 whatever the umask of whoever runs cpack (files get 0644 and the binary 0755
# from install() itself; CPack writes every entry as root:root).
# CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS cannot do it: mkdir() still applies the umask.
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/DebStagingModes.cmake)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${AURA_DEB_DIR}/conffiles ${AURA_DEB_DIR}/postinst ${AURA_DEB_DIR}/prerm ${AURA_DEB_DIR}/postrm)
# Control files 0644 and maintainer scripts 0755, whatever their modes in the checkout.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
