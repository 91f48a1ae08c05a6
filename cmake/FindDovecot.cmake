# FindDovecot: locate Dovecot 2.3 through its dovecot-config file.
#
# Provides Dovecot::Dovecot (headers + libdovecot + libdovecot-storage) and the
# variables DOVECOT_MODULEDIR, DOVECOT_DOVEADM_MODULEDIR, DOVECOT_PKGLIBDIR,
# DOVECOT_INCLUDE_DIR, DOVECOT_VERSION.
find_file(DOVECOT_CONFIG dovecot-config
  PATHS /usr/lib/dovecot /usr/local/lib/dovecot
  NO_DEFAULT_PATH)

if(DOVECOT_CONFIG)
  file(STRINGS "${DOVECOT_CONFIG}" _dc_lines)
  foreach(_line IN LISTS _dc_lines)
    if(_line MATCHES "^([a-z_]+)=['\"]?([^'\"]*)['\"]?$")
      set(_dc_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
    endif()
  endforeach()
  set(DOVECOT_INCLUDE_DIR "${_dc_dovecot_pkgincludedir}")
  set(DOVECOT_PKGLIBDIR "${_dc_dovecot_pkglibdir}")
  set(DOVECOT_MODULEDIR "${_dc_dovecot_moduledir}")
  set(DOVECOT_DOVEADM_MODULEDIR "${_dc_dovecot_moduledir}/doveadm")
  if(EXISTS "${DOVECOT_INCLUDE_DIR}/config.h")
    file(STRINGS "${DOVECOT_INCLUDE_DIR}/config.h" _dv
         REGEX "^#define DOVECOT_VERSION \"")
    string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" DOVECOT_VERSION "${_dv}")
  endif()
endif()

find_library(DOVECOT_LIB dovecot PATHS "${DOVECOT_PKGLIBDIR}" NO_DEFAULT_PATH)
find_library(DOVECOT_STORAGE_LIB dovecot-storage PATHS "${DOVECOT_PKGLIBDIR}" NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Dovecot
  REQUIRED_VARS DOVECOT_CONFIG DOVECOT_INCLUDE_DIR DOVECOT_LIB DOVECOT_STORAGE_LIB
  VERSION_VAR DOVECOT_VERSION)

if(Dovecot_FOUND AND NOT TARGET Dovecot::Dovecot)
  add_library(Dovecot::Dovecot INTERFACE IMPORTED)
  set_target_properties(Dovecot::Dovecot PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${DOVECOT_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "HAVE_CONFIG_H"
    INTERFACE_COMPILE_OPTIONS "SHELL:-include config.h"
    INTERFACE_LINK_LIBRARIES "${DOVECOT_STORAGE_LIB};${DOVECOT_LIB}")
endif()
