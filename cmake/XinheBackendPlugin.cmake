# xinhe_add_backend_plugin(): builds a xinhe backend plugin, in xinhe's own tree and in a
# vendor's project (installed with xinhe and loaded by find_package(xinhe)). One function, so
# in-tree backends and vendor plugins come out the same way.
#
#   xinhe_add_backend_plugin(xinhe_backend_<name> [NO_INSTALL] [OUTPUT_DIRECTORY <dir>]
#                            <sources>...)
#
# Makes a MODULE library libxinhe_backend_<name>.so (the file name the core loads from
# lib/xinhe/ and XINHE_BACKEND_PATH) that exports only the entry symbol (hidden visibility and,
# on Linux, a linker version script), and
# that compiles against xinhe::headers alone: a plugin must not link libxinhe (statuses and logs
# come through the host API the core passes to backend_create). Installs it into
# ${CMAKE_INSTALL_LIBDIR}/xinhe unless NO_INSTALL; OUTPUT_DIRECTORY sets where the build puts it.
include_guard(GLOBAL)
include(GNUInstallDirs)

function(xinhe_add_backend_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "")
  if(NOT target MATCHES "^xinhe_backend_[a-z0-9_]+$")
    message(FATAL_ERROR "xinhe_add_backend_plugin(${target}): the target must be named "
                        "xinhe_backend_<name> (lowercase), the file name the core loads")
  endif()
  if(NOT ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "xinhe_add_backend_plugin(${target}): no source files")
  endif()
  add_library(${target} MODULE ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(XINHE_PLUGIN_OUTPUT_DIRECTORY)
    # xinhe's own build: lib/xinhe/ of the build tree, where the core finds its plugins.
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${XINHE_PLUGIN_OUTPUT_DIRECTORY})
  endif()
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    # Hidden visibility alone still exported template code the standard headers mark default
    # and, as STB_GNU_UNIQUE, the static objects of inline functions (a plugin with one of
    # those can never be unloaded): a version script leaves the entry symbol alone global.
    set(map ${CMAKE_CURRENT_BINARY_DIR}/${target}.exports.map)
    file(CONFIGURE OUTPUT ${map} CONTENT "{\n  global: xinhe_backend_entry;\n  local: *;\n};\n")
    target_link_options(${target} PRIVATE "LINKER:--version-script=${map}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${map})
  endif()
  target_link_libraries(${target} PRIVATE xinhe::headers)
  if(TARGET xinhe_compile_options)
    # xinhe's own build: its warning flags (-Werror) and sanitizers.
    target_link_libraries(${target} PRIVATE xinhe_compile_options)
  endif()
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/xinhe)
  endif()
endfunction()
