# kubeai_scaler_add_plugin(<target> SOURCES <file>... [OUTPUT_NAME <name>] [OUTPUT_DIRECTORY <dir>])
#
# Builds a kubeai-scaler plugin: a MODULE library named <name>.so (no "lib"
# prefix; <name> defaults to <target>) linked to KubeAIScalerPlugin::sdk.
#  - Hidden visibility by default: only `Algorithm` (KUBEAI_SCALER_EXPORT) is
#    exported, so a plugin's internals never clash with another plugin's.
#  - GCC's -fno-gnu-unique for C++: static locals of inline functions and
#    templates (some in libstdc++'s own headers, e.g. std::to_string's digit
#    table) would otherwise be STB_GNU_UNIQUE symbols, which glibc binds across
#    every plugin in the process despite RTLD_LOCAL and which make dlclose a
#    no-op, so a replaced plugin could never be unloaded.
# Used in-tree and, installed with the KubeAIScalerPlugin package, out of tree.
include_guard(GLOBAL)

function(kubeai_scaler_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_NAME;OUTPUT_DIRECTORY" "SOURCES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kubeai_scaler_add_plugin(${target}): unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "kubeai_scaler_add_plugin(${target}): SOURCES is required")
  endif()

  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE KubeAIScalerPlugin::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_compile_options(${target} PRIVATE $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-fno-gnu-unique>)

  # The C header needs C99; scaler_plugin.hpp needs C++17. Only ask for what
  # the project enabled, so a C-only project needs no C++ compiler.
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("C" IN_LIST languages)
    target_compile_features(${target} PRIVATE c_std_99)
  endif()
  if("CXX" IN_LIST languages)
    target_compile_features(${target} PRIVATE cxx_std_17)
  endif()

  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME "${ARG_OUTPUT_NAME}")
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
endfunction()
