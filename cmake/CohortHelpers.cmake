# Small wrappers so each folder's CMakeLists.txt reads like a BUILD file.
#
#   cohort_cc_library(NAME foo SRCS a.cc b.cc DEPS absl::status cohort_base)
#   cohort_cc_binary(NAME cohort-server SRCS main.cc DEPS ...)
#   cohort_cc_test(NAME foo_test SRCS foo_test.cc DEPS foo [LABELS postgres])

set(COHORT_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare)

function(cohort_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SRCS})
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS})
  target_compile_options(${A_NAME} PRIVATE ${COHORT_WARNINGS})
endfunction()

# Objects every executable of a sanitizer build needs (see COHORT_TSAN).
function(cohort_add_sanitizer_support target)
  if(TARGET cohort_tsan_absl_sync)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:cohort_tsan_absl_sync>)
    target_link_libraries(${target} PRIVATE ${CMAKE_DL_LIBS})
  endif()
endfunction()

function(cohort_cc_binary)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  target_compile_options(${A_NAME} PRIVATE ${COHORT_WARNINGS})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  cohort_add_sanitizer_support(${A_NAME})
endfunction()

function(cohort_cc_test)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_options(${A_NAME} PRIVATE ${COHORT_WARNINGS})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  cohort_add_sanitizer_support(${A_NAME})
  gtest_discover_tests(${A_NAME}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${A_LABELS}")
endfunction()
