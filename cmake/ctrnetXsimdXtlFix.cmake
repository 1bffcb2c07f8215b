# Work around Debian's libxsimd-dev 8.1.0: its exported target `xsimd` has
# INTERFACE_LINK_LIBRARIES "xtl", but the package does not depend on xtl-dev. Without an `xtl`
# target CMake puts `-lxtl` on every link line and linking fails ("cannot find -lxtl").
# xsimd only needs xtl's headers under XSIMD_ENABLE_XTL_COMPLEX, which ctrnet never defines,
# so use the real xtl package when it is installed and an empty stand-in target otherwise.
# Included after find_package(xsimd) by CMakeLists.txt and by the installed ctrnetConfig.cmake.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_ctrnet_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_ctrnet_xsimd_links MATCHES "(^|;)xtl(;|$)")
    find_package(xtl QUIET CONFIG)
    if(NOT TARGET xtl)
      add_library(xtl INTERFACE IMPORTED)
    endif()
  endif()
  unset(_ctrnet_xsimd_links)
endif()
