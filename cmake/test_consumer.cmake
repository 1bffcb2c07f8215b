# Install-and-consume test:
#   cmake -DBUILD_DIR=<ctrnet build> -DCONSUMER_SOURCE_DIR=<tests/consumer> -DWORK_DIR=<scratch>
#         [-DCONFIG=<cfg>] [-DGENERATOR=<gen>] [-DCXX_COMPILER=<c++>] -P test_consumer.cmake
# 1. cmake --install <build> --prefix <scratch>/prefix
# 2. configure tests/consumer with CMAKE_PREFIX_PATH=<scratch>/prefix into <scratch>/build
# 3. build it (tests/consumer/main.cpp: a schema, model and trainer options written with
#    designated initializers, -Wall -Wextra -Werror), 4. run the consumer binary (train, predict,
#    save, load).
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "test_consumer: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED CONFIG OR "${CONFIG}" STREQUAL "")
  set(CONFIG Release)
endif()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "test_consumer: step '${what}' failed (exit ${rc})\n  command: ${cmd}\n--- output ---\n${out}")
  endif()
  message(STATUS "test_consumer: ${what}: ok")
endfunction()

run_step("install ctrnet into ${prefix}"
  "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" --config "${CONFIG}")

foreach(f include/ctrnet/core/matrix.hpp include/ctrnet/wide_deep.hpp include/ctrnet/io/json_strict.hpp)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "test_consumer: install did not produce ${prefix}/${f}")
  endif()
endforeach()
file(GLOB_RECURSE config_files "${prefix}/*/ctrnetConfig.cmake")
if(NOT config_files)
  message(FATAL_ERROR "test_consumer: install did not produce ctrnetConfig.cmake under ${prefix}")
endif()

set(configure_args -S "${CONSUMER_SOURCE_DIR}" -B "${build}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_BUILD_TYPE=${CONFIG}"
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
  -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON)
if(DEFINED GENERATOR AND NOT "${GENERATOR}" STREQUAL "")
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(DEFINED CXX_COMPILER AND NOT "${CXX_COMPILER}" STREQUAL "")
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()

run_step("configure consumer" "${CMAKE_COMMAND}" ${configure_args})

# Make sure the consumer used the freshly installed package, not some other ctrnet.
file(STRINGS "${build}/CMakeCache.txt" ctrnet_dir_line REGEX "^ctrnet_DIR:")
string(REGEX REPLACE "^ctrnet_DIR:[A-Z]+=" "" ctrnet_dir "${ctrnet_dir_line}")
file(REAL_PATH "${prefix}" prefix_real)
if(NOT EXISTS "${ctrnet_dir}")
  message(FATAL_ERROR "test_consumer: consumer did not record ctrnet_DIR (got '${ctrnet_dir_line}')")
endif()
file(REAL_PATH "${ctrnet_dir}" ctrnet_dir_real)
string(FIND "${ctrnet_dir_real}" "${prefix_real}/" pos)
if(NOT pos EQUAL 0)
  message(FATAL_ERROR "test_consumer: consumer found ctrnet at ${ctrnet_dir}, not in ${prefix}")
endif()

run_step("build consumer" "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")

set(exe)
foreach(candidate "${build}/consumer" "${build}/${CONFIG}/consumer"
                  "${build}/consumer.exe" "${build}/${CONFIG}/consumer.exe")
  if(EXISTS "${candidate}")
    set(exe "${candidate}")
    break()
  endif()
endforeach()
if(NOT exe)
  message(FATAL_ERROR "test_consumer: the consumer built, but no consumer executable was found in ${build}")
endif()
run_step("run consumer" "${exe}")
message(STATUS "test_consumer: installed ctrnet was found, compiled against and run successfully")
