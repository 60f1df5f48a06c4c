# install(): headers, libxinhe, plugins (installed by each plugin target), tools, the backend
# template (backends/CMakeLists.txt), and an exported xinhe-config.cmake so that consumers write
# find_package(xinhe) + xinhe::xinhe, and plugin authors find_package(xinhe) +
# xinhe_add_backend_plugin() (xinhe::headers, no library).
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/xinhe DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS xinhe xinhe_headers EXPORT xinhe-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT xinhe-targets NAMESPACE xinhe:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xinhe)
# Generated under install-config/, not the build folder's root: these files only work installed
# (they include xinhe-targets.cmake beside them), and at the root a -Dxinhe_DIR=<build folder>
# found them and failed inside them instead of saying there is no package there.
set(XINHE_INSTALL_CONFIG_DIR ${PROJECT_BINARY_DIR}/install-config)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xinhe-config.cmake.in
  ${XINHE_INSTALL_CONFIG_DIR}/xinhe-config.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xinhe
  PATH_VARS XINHE_INSTALL_TEMPLATE_DIR)
write_basic_package_version_file(${XINHE_INSTALL_CONFIG_DIR}/xinhe-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${XINHE_INSTALL_CONFIG_DIR}/xinhe-config.cmake ${XINHE_INSTALL_CONFIG_DIR}/xinhe-config-version.cmake
  ${PROJECT_SOURCE_DIR}/cmake/XinheBackendPlugin.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xinhe)
