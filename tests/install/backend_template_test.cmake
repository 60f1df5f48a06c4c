# The backend template test: what a vendor does with the installed package alone. Installs this
# build tree into a scratch prefix, builds the installed template (share/xinhe/backends/null) as
# a project of its own with find_package(xinhe), and runs the installed bin/xinhe-conform on the
# plugin: every runtime.* case must PASS, every op case must be UNSUPPORTED with the template's
# reason (UNIMPLEMENTED from check and run), nothing may FAIL. Then clones the template with the
# rename commands of its README.md and checks the clone builds and loads under its new name.
# The plugin must not need libxinhe. Inputs: BUILD_DIR, WORK_DIR, GENERATOR, MAKE_PROGRAM,
# CXX_COMPILER, CONFIG, SANITIZE (as in install_test.cmake).
foreach(var BUILD_DIR WORK_DIR GENERATOR)
  if(NOT ${var})
    message(FATAL_ERROR "backend_template_test.cmake: ${var} is not set")
  endif()
endforeach()

set(TEST_LABEL "template test")
include(${CMAKE_CURRENT_LIST_DIR}/install_steps.cmake)

set(template "${prefix}/share/xinhe/backends/null")
set(conform "${prefix}/bin/xinhe-conform")
foreach(path "${template}/CMakeLists.txt" "${template}/README.md" "${conform}")
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "template test: the install lacks ${path}")
  endif()
endforeach()

# Configures and builds the template project in source_dir; sets plugin_file to the plugin.
function(build_template source_dir build_dir plugin_name)
  set(configure_args -S "${source_dir}" -B "${build_dir}" -G "${GENERATOR}"
      "-DCMAKE_PREFIX_PATH=${prefix}")
  if(MAKE_PROGRAM)
    list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(CXX_COMPILER)
    list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  if(CONFIG)
    list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
  endif()
  set(cxx_flags "-Werror")
  if(SANITIZE)
    # The plugin is loaded by the installed (sanitized) xinhe-conform: same runtime.
    string(APPEND cxx_flags " -fsanitize=${SANITIZE}")
  endif()
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${cxx_flags}")
  run_step("configure ${plugin_name} against the install" "${CMAKE_COMMAND}" ${configure_args})
  run_step("build ${plugin_name}" "${CMAKE_COMMAND}" --build "${build_dir}" ${config_args})
  file(GLOB_RECURSE found "${build_dir}/libxinhe_backend_${plugin_name}.so")
  if(NOT found)
    message(FATAL_ERROR "template test: ${build_dir} holds no libxinhe_backend_${plugin_name}.so")
  endif()
  list(GET found 0 plugin)
  # A plugin gets the core's services through the host API; linking libxinhe would load a
  # second copy of the core into the process.
  find_program(readelf NAMES readelf)
  if(readelf)
    execute_process(COMMAND "${readelf}" -d "${plugin}" OUTPUT_VARIABLE dynamic)
    if(dynamic MATCHES "NEEDED[^\n]*libxinhe")
      message(FATAL_ERROR "template test: ${plugin} links libxinhe:\n${dynamic}")
    endif()
    # docs/porting.md: the plugin exports the entry symbol and nothing else (no template code of
    # the standard headers, no STB_GNU_UNIQUE object, which would keep it from unloading).
    execute_process(COMMAND "${readelf}" --dyn-syms -W "${plugin}" OUTPUT_VARIABLE symbols)
    string(REGEX MATCHALL "[^\n]*(GLOBAL|WEAK|UNIQUE)[^\n]*" exported "${symbols}")
    list(FILTER exported EXCLUDE REGEX " UND ")
    list(FILTER exported EXCLUDE REGEX " xinhe_backend_entry$")
    if(exported)
      list(JOIN exported "\n" exported_text)
      message(FATAL_ERROR "template test: ${plugin} exports more than xinhe_backend_entry:\n"
                          "${exported_text}")
    endif()
  endif()
  set(plugin_file "${plugin}" PARENT_SCOPE)
endfunction()

# Reads the report; sets <prefix>_pass/_fail/_unsupported counts and fails on a wrong outcome.
function(check_report report_file expected_backend)
  file(READ "${report_file}" report)
  string(JSON backend_name GET "${report}" backend name)
  if(NOT backend_name STREQUAL expected_backend)
    message(FATAL_ERROR "template test: report names backend '${backend_name}', "
                        "not '${expected_backend}'")
  endif()
  string(JSON count LENGTH "${report}" cases)
  set(runtime_pass 0)
  set(op_unsupported 0)
  set(other_pass 0)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON suite GET "${report}" cases ${i} suite)
    string(JSON name GET "${report}" cases ${i} name)
    string(JSON outcome GET "${report}" cases ${i} outcome)
    string(JSON detail GET "${report}" cases ${i} detail)
    if(outcome STREQUAL "FAIL")
      message(FATAL_ERROR "template test: ${suite}.${name} FAILED: ${detail}")
    endif()
    if(suite STREQUAL "runtime")
      if(NOT outcome STREQUAL "PASS")
        message(FATAL_ERROR "template test: runtime case ${name} is ${outcome}: ${detail}")
      endif()
      math(EXPR runtime_pass "${runtime_pass} + 1")
    elseif(outcome STREQUAL "UNSUPPORTED")
      # The op declined by the template's implementation lists (the impl_filter cases say only
      # that the op is declined without a filter), not for another reason.
      if(NOT detail MATCHES "not written yet" AND NOT detail MATCHES "declines the op without")
        message(FATAL_ERROR "template test: ${suite}.${name} is UNSUPPORTED for another reason "
                            "than the template's: ${detail}")
      endif()
      math(EXPR op_unsupported "${op_unsupported} + 1")
    else()
      # Op cases that run no op (argument validation through the core) may pass.
      math(EXPR other_pass "${other_pass} + 1")
    endif()
  endforeach()
  set(runtime_pass ${runtime_pass} PARENT_SCOPE)
  set(op_unsupported ${op_unsupported} PARENT_SCOPE)
  set(other_pass ${other_pass} PARENT_SCOPE)
endfunction()

# 1. The template as installed, the whole suite.
build_template("${template}" "${WORK_DIR}/null-build" null)
set(report "${WORK_DIR}/null_conform.json")
execute_process(COMMAND "${conform}" --plugin "${plugin_file}" --json "${report}"
  RESULT_VARIABLE conform_code OUTPUT_VARIABLE conform_out ERROR_VARIABLE conform_err)
if(NOT EXISTS "${report}")
  message(FATAL_ERROR "template test: xinhe-conform exited ${conform_code} without a report\n"
                      "${conform_out}\n${conform_err}")
endif()
check_report("${report}" null)
# Levels: the template computes nothing, so it reaches level 1 alone, and no level past it reads
# as met (a device that claims no dtype and runs no attention meets neither level 3 nor 4).
file(READ "${report}" report_text)
string(JSON reached GET "${report_text}" levels "null:0" reached)
if(NOT reached EQUAL 1)
  message(FATAL_ERROR "template test: conformance level ${reached}, expected 1")
endif()
foreach(index 1 2 3)  # levels 2, 3 and 4 (the list is 0-based)
  string(JSON met GET "${report_text}" levels "null:0" levels ${index} met)
  string(JSON why GET "${report_text}" levels "null:0" levels ${index} why)
  if(met)
    math(EXPR level "${index} + 1")
    message(FATAL_ERROR "template test: level ${level} reads as met for a device that computes "
                        "nothing")
  endif()
  list(APPEND level_reasons "${why}")
endforeach()
list(GET level_reasons 0 f32_why)
if(NOT f32_why MATCHES "every f32 case UNSUPPORTED")
  message(FATAL_ERROR "template test: level 2's reason '${f32_why}' does not say that every f32 "
                      "case was UNSUPPORTED")
endif()
if(NOT conform_code EQUAL 0)
  message(FATAL_ERROR "template test: xinhe-conform exited ${conform_code} with no FAIL\n"
                      "${conform_out}")
endif()
if(runtime_pass LESS 20 OR op_unsupported LESS 100)
  message(FATAL_ERROR "template test: ${runtime_pass} runtime cases passed and "
                      "${op_unsupported} op cases were declined; expected the whole suite")
endif()
message(STATUS "null: ${runtime_pass} runtime cases PASS, ${op_unsupported} op cases "
               "UNSUPPORTED (UNIMPLEMENTED), ${other_pass} other op cases PASS, none FAIL")

# 2. The cloning steps of the README, verbatim in effect: rename files and names, build, load.
set(clone "${WORK_DIR}/mychip")
file(COPY "${template}/" DESTINATION "${clone}")
file(GLOB clone_files RELATIVE "${clone}" "${clone}/*")
foreach(f IN LISTS clone_files)
  if(f MATCHES "^null_(.*)$")
    file(RENAME "${clone}/${f}" "${clone}/mychip_${CMAKE_MATCH_1}")
  endif()
endforeach()
find_program(sed NAMES sed REQUIRED)
file(GLOB clone_sources "${clone}/mychip_*")
run_step("rename the clone" "${sed}" -i -e "s/xinhe_backend_null/xinhe_backend_mychip/g"
         -e "s/null_/mychip_/g" -e "s/NULL_/MYCHIP_/g" -e "s/\"null\"/\"mychip\"/g"
         "${clone}/CMakeLists.txt" ${clone_sources})
build_template("${clone}" "${WORK_DIR}/mychip-build" mychip)
set(report "${WORK_DIR}/mychip_conform.json")
run_step("xinhe-conform on the clone" "${conform}" --plugin "${plugin_file}"
         --filter runtime.properties --json "${report}")
check_report("${report}" mychip)
if(NOT runtime_pass EQUAL 1)
  message(FATAL_ERROR "template test: the clone's runtime.properties did not pass")
endif()
message(STATUS "mychip (the renamed clone): loads as mychip, runtime.properties PASS")

# 3. The README's install step: `cmake --install build --prefix <prefix>` puts the clone where
# the installed core looks, so the installed xinhe-info lists it; from then on the README warns
# that `xinhe-conform --plugin build/...` meets the installed copy and refuses a duplicate name.
run_step("install the clone" "${CMAKE_COMMAND}" --install "${WORK_DIR}/mychip-build"
         --prefix "${prefix}")
file(GLOB_RECURSE installed_clone "${prefix}/lib*/xinhe/libxinhe_backend_mychip.so")
if(NOT installed_clone)
  message(FATAL_ERROR "template test: the clone's install left no lib*/xinhe/"
                      "libxinhe_backend_mychip.so under ${prefix}")
endif()
execute_process(COMMAND "${prefix}/bin/xinhe-info" RESULT_VARIABLE info_code
  OUTPUT_VARIABLE info_out ERROR_VARIABLE info_err)
if(NOT info_code EQUAL 0 OR NOT info_out MATCHES "\n  mychip +loaded")
  message(FATAL_ERROR "template test: the installed xinhe-info does not load the installed clone "
                      "(exit ${info_code}):\n${info_out}\n${info_err}")
endif()
execute_process(COMMAND "${conform}" --plugin "${plugin_file}" --filter runtime.properties
  RESULT_VARIABLE dup_code OUTPUT_VARIABLE dup_out ERROR_VARIABLE dup_err)
if(dup_code EQUAL 0 OR NOT "${dup_out}${dup_err}" MATCHES "duplicate backend name")
  message(FATAL_ERROR "template test: with the clone installed, --plugin of the same name "
                      "exited ${dup_code} without the README's \"duplicate backend name\":\n"
                      "${dup_out}\n${dup_err}")
endif()
file(REMOVE ${installed_clone})
message(STATUS "mychip installed with --prefix: the installed xinhe-info loads it; --plugin of "
               "the build copy is refused as a duplicate, as the README says")
