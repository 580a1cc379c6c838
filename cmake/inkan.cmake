# inkan_cc_library(NAME name SRCS ... HDRS ... DEPS ...)
#   One small static library per module piece, aliased as inkan::<dir>::<name>.
# inkan_cc_test(NAME name SRCS ... DEPS ... [LABELS ...])
#   A GoogleTest binary registered with CTest (gtest_discover_tests).

set(INKAN_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter
    -Wno-missing-field-initializers)

function(inkan_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  get_filename_component(_dir ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(_target inkan_${_dir}_${A_NAME})
  if(A_SRCS)
    add_library(${_target} STATIC ${A_SRCS} ${A_HDRS})
    target_include_directories(${_target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${_target} PUBLIC ${A_DEPS})
    target_compile_options(${_target} PRIVATE ${INKAN_WARNINGS})
  else()
    add_library(${_target} INTERFACE)
    target_include_directories(${_target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${_target} INTERFACE ${A_DEPS})
  endif()
  add_library(inkan::${_dir}::${A_NAME} ALIAS ${_target})
endfunction()

function(inkan_cc_test)
  if(NOT INKAN_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  get_filename_component(_dir ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(_target inkan_${_dir}_${A_NAME})
  add_executable(${_target} ${A_SRCS})
  target_include_directories(${_target} PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${PROJECT_SOURCE_DIR})
  target_link_libraries(${_target} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_options(${_target} PRIVATE ${INKAN_WARNINGS})
  include(GoogleTest)
  gtest_discover_tests(${_target} DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${A_LABELS};unit"
                       ENVIRONMENT "INKAN_SOFTHSM_LIB=${INKAN_SOFTHSM_LIB}")
endfunction()
