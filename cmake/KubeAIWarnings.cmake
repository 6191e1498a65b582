# Warnings for our own targets only (link kubeai::warnings PRIVATE): third-party
# headers are pulled in as SYSTEM by their imported targets and stay quiet.
add_library(kubeai_warnings INTERFACE)
add_library(kubeai::warnings ALIAS kubeai_warnings)
target_compile_options(kubeai_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(KUBEAI_WERROR)
  target_compile_options(kubeai_warnings INTERFACE -Werror)
endif()

# The same for plain C targets (plugins written in C); the C++-only flags above
# would make gcc warn about the flags themselves.
add_library(kubeai_c_warnings INTERFACE)
add_library(kubeai::c_warnings ALIAS kubeai_c_warnings)
target_compile_options(kubeai_c_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion)
if(KUBEAI_WERROR)
  target_compile_options(kubeai_c_warnings INTERFACE -Werror)
endif()
