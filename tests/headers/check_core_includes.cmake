# Lists every file core.h includes, transitively, and fails if one belongs to RocksDB, Asio, Boost or
# simdjson, or is a backend or testing header of strata's: core.h is what a user of aggregates and
# repositories touches, nothing else.
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
string(REGEX MATCHALL "[^ \\\n]*strata/core/(backend|testing)/[^ \\\n]*" internal "${deps}")
if(internal)
  message(FATAL_ERROR "core.h includes headers that are not for users of aggregates: ${internal}")
endif()
message(STATUS "core.h includes only the standard library and strata's user headers")
