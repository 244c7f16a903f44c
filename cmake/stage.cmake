# Symlink every file of SRC (the Python package) into DST, so DST's parent can go on PYTHONPATH
# next to the freshly built _C module. Development only (EMBER_DEV_STAGE=ON).
file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/*.py ${SRC}/*.pyi ${SRC}/*.typed ${SRC}/data/*)
foreach(f ${files})
  get_filename_component(d ${DST}/${f} DIRECTORY)
  file(MAKE_DIRECTORY ${d})
  if(NOT EXISTS ${DST}/${f})
    file(CREATE_LINK ${SRC}/${f} ${DST}/${f} SYMBOLIC)
  endif()
endforeach()
