# Lists every file core.h includes, transitively, and fails if one belongs to RocksDB, Asio, Boost or
# simdjson.
execute_process(COMMAND ${CXX} -std=c++20 -M -I${INCLUDE} -x c++ ${INCLUDE}/strata/core/core.h
                OUTPUT_VARIABLE deps RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "core.h does not preprocess")
endif()
if(NOT deps MATCHES "strata/core/repository.h")
  message(FATAL_ERROR "the dependency listing is not what was expected:\n${deps}")
endif()
string(REGEX MATCHALL "[^ \\\n]*(rocksdb|asio|boost|simdjson)[^ \\\n]*" foreign "${deps}")
if(foreign)
  message(FATAL_ERROR "core headers include foreign libraries: ${foreign}")
endif()
message(STATUS "core headers use only the standard library")
