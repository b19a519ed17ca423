# FindCAF.cmake: locates the C++ Actor Framework (CAF) 0.17 as Debian 12 ships
# it (libcaf-dev: headers and shared libraries, but no CMake package config).
#
# Creates the imported targets, named as CAF ≥ 0.18 exports them itself
# (CAF::core, CAF::io, CAF::openssl). caf-rtm needs CAF 0.17's API.
#
# Result variables: CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIR and
# CAF_<component>_LIBRARY for each of core, io, openssl.

find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp caf/config.hpp
          HINTS ${CAF_ROOT_DIR}/include)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  # CAF encodes its version as e.g. `#define CAF_VERSION 1706` (0.17.6).
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" _caf_version_num
                       "${_caf_version_line}")
  # CAF 1.0 moved the version elsewhere: an empty version, which no request
  # for a version accepts (an undefined one, any).
  if(_caf_version_num MATCHES "^[0-9]+$")
    math(EXPR _caf_major "${_caf_version_num} / 10000")
    math(EXPR _caf_minor "(${_caf_version_num} / 100) % 100")
    math(EXPR _caf_patch "${_caf_version_num} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  else()
    set(CAF_VERSION "")
  endif()
endif()

set(_caf_components core io openssl)
if(NOT CAF_FIND_COMPONENTS)
  set(CAF_FIND_COMPONENTS core io)
endif()

foreach(_comp IN LISTS _caf_components)
  find_library(CAF_${_comp}_LIBRARY NAMES caf_${_comp}
               HINTS ${CAF_ROOT_DIR}/lib)
  if(CAF_${_comp}_LIBRARY)
    set(CAF_${_comp}_FOUND TRUE)
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND)
  foreach(_comp IN LISTS _caf_components)
    if(CAF_${_comp}_FOUND AND NOT TARGET CAF::${_comp})
      add_library(CAF::${_comp} UNKNOWN IMPORTED)
      set_target_properties(CAF::${_comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${_comp}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
    endif()
  endforeach()
  if(TARGET CAF::io AND TARGET CAF::core)
    set_property(TARGET CAF::io APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
  endif()
  if(TARGET CAF::openssl AND TARGET CAF::io)
    set_property(TARGET CAF::openssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::io)
  endif()
  find_package(Threads REQUIRED)
  set_property(TARGET CAF::core APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()

mark_as_advanced(CAF_INCLUDE_DIR CAF_core_LIBRARY CAF_io_LIBRARY CAF_openssl_LIBRARY)
