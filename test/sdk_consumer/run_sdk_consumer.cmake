# The SDK as a plugin author gets it: install it into a scratch prefix, build
# test/sdk_consumer/project against it with find_package(KubeAIScalerPlugin),
# strict warnings as errors, then check the plugins it made: named
# <target>.so, exporting `Algorithm` and nothing else, and loadable by the real
# loader. Also checks that plugins/README.md shows exactly these files.
#
# Where the SDK comes from:
#   -DBUILD_DIR=<server build>   the plugin_sdk component of the server's build;
#   -DSDK_SOURCE=<plugins/sdk>   plugins/sdk on its own: copied alone into the
#                                scratch directory (nothing else of the source
#                                tree reachable), configured with every find_*
#                                rooted in an empty directory (no package, header,
#                                library or program of the machine found), built
#                                and installed.
#
# cmake (-DBUILD_DIR=... | -DSDK_SOURCE=... -DMAKE_PROGRAM=...) -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=...
#       -DC_COMPILER=... -DCXX_COMPILER=... -DNM=... -DCHECK_TOOL=... -P run_sdk_consumer.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var SOURCE_DIR WORK_DIR GENERATOR C_COMPILER CXX_COMPILER NM CHECK_TOOL)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_sdk_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED BUILD_DIR AND NOT DEFINED SDK_SOURCE)
  message(FATAL_ERROR "run_sdk_consumer.cmake: -DBUILD_DIR=... or -DSDK_SOURCE=... is required")
endif()
if(DEFINED SDK_SOURCE AND NOT DEFINED MAKE_PROGRAM)
  message(FATAL_ERROR "run_sdk_consumer.cmake: -DSDK_SOURCE=... needs -DMAKE_PROGRAM=...")
endif()

set(project_dir ${SOURCE_DIR}/test/sdk_consumer/project)
set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
  set(run_error "${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})

# 1. Install the SDK only.
if(DEFINED SDK_SOURCE)
  set(sdk_copy ${WORK_DIR}/sdk-source)
  set(sdk_build ${WORK_DIR}/sdk-build)
  set(nothing ${WORK_DIR}/nothing)
  file(MAKE_DIRECTORY ${nothing})
  file(COPY ${SDK_SOURCE}/ DESTINATION ${sdk_copy})
  # (--no-warn-unused-cli: that nothing reads the find_* settings is the point.)
  run("configure the SDK on its own" ${CMAKE_COMMAND} --no-warn-unused-cli -S ${sdk_copy} -B ${sdk_build} -G ${GENERATOR}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_ROOT_PATH=${nothing}
    -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY
    -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY
    -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY
    -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=ONLY
    -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})  # the one program it needs, found by the caller
  string(FIND "${run_output}${run_error}" "Warning" warned)
  if(NOT warned EQUAL -1)
    message(FATAL_ERROR "the standalone SDK configure warned:\n${run_output}${run_error}")
  endif()
  # Header-only and LANGUAGES NONE: not even a compiler was looked for.
  file(STRINGS ${sdk_build}/CMakeCache.txt compilers REGEX "^CMAKE_(C|CXX)_COMPILER:")
  if(compilers)
    message(FATAL_ERROR "the standalone SDK configure looked for a compiler: ${compilers}")
  endif()
  run("build the SDK" ${CMAKE_COMMAND} --build ${sdk_build})
  run("install the SDK" ${CMAKE_COMMAND} --install ${sdk_build} --prefix ${prefix})
else()
  run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component plugin_sdk)
endif()
foreach(header scaler_plugin.h scaler_plugin.hpp scaler_plugin_input.hpp)
  if(NOT EXISTS ${prefix}/include/kubeai/${header})
    message(FATAL_ERROR "not installed: include/kubeai/${header}")
  endif()
endforeach()
file(GLOB_RECURSE config_files ${prefix}/*/KubeAIScalerPluginConfig.cmake)
file(GLOB_RECURSE version_files ${prefix}/*/KubeAIScalerPluginConfigVersion.cmake)
if(NOT config_files OR NOT version_files)
  message(FATAL_ERROR "KubeAIScalerPluginConfig.cmake / ConfigVersion.cmake not installed under ${prefix}")
endif()

# 2. Configure and build the out-of-tree project: C++17 and C99 exactly, with
# the warnings a careful author uses (the SDK's macros must pass them).
set(common_warnings "-Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror")
run("configure" ${CMAKE_COMMAND} -S ${project_dir} -B ${build} -G ${GENERATOR}
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_C_COMPILER=${C_COMPILER}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_C_STANDARD=99 -DCMAKE_C_EXTENSIONS=OFF
  -DCMAKE_CXX_STANDARD=17 -DCMAKE_CXX_EXTENSIONS=OFF
  "-DCMAKE_C_FLAGS=${common_warnings}"
  "-DCMAKE_CXX_FLAGS=${common_warnings} -Wold-style-cast -Wsign-conversion")
file(STRINGS ${build}/CMakeCache.txt package_dir REGEX "^KubeAIScalerPlugin_DIR:")
string(FIND "${package_dir}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "find_package did not use the installed SDK: ${package_dir}")
endif()
run("build" ${CMAKE_COMMAND} --build ${build})

# 3. The plugins: the names the helper promises, exporting `Algorithm` as data,
# and nothing of their own besides. Weak instantiations of standard-library
# templates (W/V) stay visible whatever -fvisibility says and are harmless
# under RTLD_LOCAL. A GNU_UNIQUE symbol (u) is not: glibc shares it between
# all plugins in the process and never unloads its library.
set(plugins ${build}/halfway_ratio.so ${build}/queue_first.so)
foreach(plugin IN LISTS plugins)
  if(NOT EXISTS ${plugin})
    message(FATAL_ERROR "not built: ${plugin}")
  endif()
  run("nm" ${NM} -D --defined-only ${plugin})
  string(REGEX MATCHALL "[^\n]+" symbols "${run_output}")
  set(found_algorithm FALSE)
  foreach(line IN LISTS symbols)
    if(line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) (.+)$")
      set(type "${CMAKE_MATCH_1}")
      set(name "${CMAKE_MATCH_2}")
      if(name STREQUAL "Algorithm" AND type MATCHES "^[RDB]$")
        set(found_algorithm TRUE)
      elseif(type STREQUAL "u" OR NOT type MATCHES "^[WV]$")
        message(FATAL_ERROR "${plugin} exports `${name}` (${type}); only `Algorithm` should be exported")
      endif()
    endif()
  endforeach()
  if(NOT found_algorithm)
    message(FATAL_ERROR "${plugin} does not export `Algorithm` as data:\n${run_output}")
  endif()
endforeach()

# 4. The real loader accepts them and they compute.
run("load" ${CHECK_TOOL} ${plugins})
foreach(expected "HalfwayRatio -> " "QueueFirst -> ")
  string(FIND "${run_output}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "loader check did not report ${expected}:\n${run_output}")
  endif()
endforeach()
message(STATUS "${run_output}")

# 5. plugins/README.md shows these very files: each block after a marker
#    <!-- sdk_consumer: FILE --> must equal test/sdk_consumer/project/FILE.
file(READ ${SOURCE_DIR}/plugins/README.md readme)
set(checked 0)
set(rest "${readme}")
while(TRUE)
  string(FIND "${rest}" "<!-- sdk_consumer: " at)
  if(at EQUAL -1)
    break()
  endif()
  math(EXPR start "${at} + 19")
  string(SUBSTRING "${rest}" ${start} -1 rest)
  string(FIND "${rest}" " -->" end)
  string(SUBSTRING "${rest}" 0 ${end} name)
  # The fenced block that follows: from the line after ``` to the closing ```.
  string(FIND "${rest}" "```" fence)
  string(SUBSTRING "${rest}" ${fence} -1 rest)
  string(FIND "${rest}" "\n" newline)
  math(EXPR body "${newline} + 1")
  string(SUBSTRING "${rest}" ${body} -1 rest)
  string(FIND "${rest}" "\n```" close)
  math(EXPR length "${close} + 1")
  string(SUBSTRING "${rest}" 0 ${length} block)
  string(SUBSTRING "${rest}" ${length} -1 rest)
  file(READ ${project_dir}/${name} expected)
  if(NOT block STREQUAL expected)
    message(FATAL_ERROR "plugins/README.md: the block for ${name} differs from test/sdk_consumer/project/${name}")
  endif()
  math(EXPR checked "${checked} + 1")
endwhile()
if(checked LESS 3)
  message(FATAL_ERROR "plugins/README.md: expected the blocks of CMakeLists.txt, halfway_ratio.cc and queue_first.c, found ${checked}")
endif()

file(REMOVE_RECURSE ${WORK_DIR})
if(DEFINED SDK_SOURCE)
  set(origin "plugins/sdk on its own")
else()
  set(origin "the server's build")
endif()
message(STATUS "SDK consumer: installed from ${origin}, built out of tree, loaded; README blocks match (${checked})")
