# Run by CPack (CPACK_PRE_BUILD_SCRIPTS, cmake/Packaging.cmake) on the staging tree just before
# it becomes the package's data.tar: every directory 0755. CMake creates the directories it
# needs with mkdir(), which the umask of whoever runs cpack narrows (umask 077 gave 0700 /usr in
# the package, and dpkg would create new folders like /usr/lib/sysusers.d unreadable to all but
# root). Files need no fixing: install() sets their modes explicitly.
if(NOT IS_DIRECTORY "${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
  message(FATAL_ERROR "DebStagingModes: no staging directory '${CPACK_TEMPORARY_INSTALL_DIRECTORY}'")
endif()
file(GLOB_RECURSE entries LIST_DIRECTORIES true "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*")
foreach(entry IN LISTS entries)
  if(IS_DIRECTORY "${entry}" AND NOT IS_SYMLINK "${entry}")
    file(CHMOD "${entry}" DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
      GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endif()
endforeach()
