# Symlink every file of SRC (the Python package) into DST, so DST's parent can go on PYTHONPATH
# next to the freshly built _C module. Development only (EMBER_DEV_STAGE=ON).
file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/*)
list(FILTER files EXCLUDE REGEX "__pycache__|\\.pyc$")
foreach(f ${files})
  get_filename_component(d ${DST}/${f} DIRECTORY)
  file(MAKE_DIRECTORY ${d})
  if(NOT EXISTS ${DST}/${f})
    file(CREATE_LINK ${SRC}/${f} ${DST}/${f} SYMBOLIC)
  endif()
endforeach()
