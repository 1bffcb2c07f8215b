# Compile-fail test driver: cmake -DBUILD_DIR=<build> -DTARGET=<target> -DSOURCE=<file.cpp>
#                                  [-DCONFIG=<cfg>] -P expect_compile_failure.cmake
# Passes only if building TARGET fails AND the compiler diagnostics match the CMake regular
# expression given on the first line of SOURCE as `// EXPECT-ERROR: <regex>`.
# The regex is matched against the diagnostics only (not the compile command, not the echoed
# source lines, and with the test's own file name replaced by `<source>`), in the C locale.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "expect_compile_failure: -D${var}=... is required")
  endif()
endforeach()

file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
if(NOT first_line MATCHES "^// EXPECT-ERROR: (.+)$")
  message(FATAL_ERROR "expect_compile_failure: ${SOURCE}: first line must be `// EXPECT-ERROR: <regex>`, got: ${first_line}")
endif()
string(STRIP "${CMAKE_MATCH_1}" expected)

set(config_args)
if(DEFINED CONFIG AND NOT "${CONFIG}" STREQUAL "")
  set(config_args --config "${CONFIG}")
endif()

execute_process(
  # LC_ALL=C: plain ASCII quotes in diagnostics, whatever the user's locale.
  COMMAND "${CMAKE_COMMAND}" -E env LC_ALL=C
          "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

# Drop ANSI colour sequences in case diagnostics are coloured (CMAKE_COLOR_DIAGNOSTICS=ON).
string(ASCII 27 esc)
string(REGEX REPLACE "${esc}\\[[0-9;]*[mK]" "" out "${out}")

# Match only the compiler's diagnostics: drop build-tool chatter, the echoed compile command
# (it contains the source path, which must not satisfy the regex) and GCC/Clang source excerpts
# (`  12 | code` and `     |   ^~~`, which would echo the offending code, not the error).
# Semicolons and brackets are masked so the text can be handled as a CMake list of lines.
string(REPLACE ";" "<ctrnet-semi>" masked "${out}")
string(REPLACE "[" "<ctrnet-lbr>" masked "${masked}")
string(REPLACE "]" "<ctrnet-rbr>" masked "${masked}")
string(REPLACE "\r" "" masked "${masked}")
string(REPLACE "\n" ";" lines "${masked}")
set(diagnostics "")
foreach(line IN LISTS lines)
  if((line MATCHES "^<ctrnet-lbr>[0-9]+/[0-9]+<ctrnet-rbr>")          # ninja progress
     OR (line MATCHES "^<ctrnet-lbr> *[0-9]+%<ctrnet-rbr>")           # make progress
     OR (line MATCHES "^(FAILED: |ninja: |g?make: |g?make<ctrnet-lbr>)")
     OR (line MATCHES "(^| )-c [^ ]" AND line MATCHES "(^| )-o [^ ]") # the compile command
     OR (line MATCHES "^ *[0-9]* \\| "))                              # source excerpt / carets
    continue()
  endif()
  string(APPEND diagnostics "${line}\n")
endforeach()
string(REPLACE "<ctrnet-semi>" ";" diagnostics "${diagnostics}")
string(REPLACE "<ctrnet-lbr>" "[" diagnostics "${diagnostics}")
string(REPLACE "<ctrnet-rbr>" "]" diagnostics "${diagnostics}")
# The test's own file name must not satisfy the regex either (`sanity` vs sanity_static_assert.cpp).
get_filename_component(source_name "${SOURCE}" NAME)
string(REPLACE "${SOURCE}" "<source>" diagnostics "${diagnostics}")
string(REPLACE "${source_name}" "<source>" diagnostics "${diagnostics}")

if(rc EQUAL 0)
  message(FATAL_ERROR
    "expect_compile_failure: ${SOURCE} compiled successfully, but it must fail to compile "
    "with an error matching: ${expected}\n--- build output ---\n${out}")
endif()
if(NOT diagnostics MATCHES "${expected}")
  message(FATAL_ERROR
    "expect_compile_failure: ${SOURCE} failed to compile (as required), but the output does not "
    "match the expected regex: ${expected}\n--- compiler diagnostics (what the regex is matched against) ---\n${diagnostics}\n--- full build output ---\n${out}")
endif()
message(STATUS "expect_compile_failure: ${SOURCE}: failed to compile as expected (matched: ${expected})")
