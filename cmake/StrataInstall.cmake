# Install rules and the package config, so that a consumer's `find_package(strata CONFIG)` gives it
# strata::core, strata::projection_storage, strata::projections, strata::eventstore, strata::messaging and
# strata::jetstream, strata::pgstore, strata::tools; and the `strata` command.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(strata_install_targets strata_core)
foreach(part projection_storage projections eventstore messaging jetstream pgstore tools)
  if(TARGET strata_${part})
    list(APPEND strata_install_targets strata_${part})
  endif()
endforeach()

install(TARGETS ${strata_install_targets} EXPORT strataTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET strata)
  install(TARGETS strata RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
foreach(dir core/include projections/storage/include projections/include eventstore/include messaging/include
            pgstore/include tools/include)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

set(strata_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/strata)
install(EXPORT strataTargets NAMESPACE strata:: DESTINATION ${strata_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/strataConfig.cmake.in
  ${PROJECT_BINARY_DIR}/strataConfig.cmake INSTALL_DESTINATION ${strata_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/strataConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/strataConfig.cmake ${PROJECT_BINARY_DIR}/strataConfigVersion.cmake
  DESTINATION ${strata_cmake_dir})
