// Catch2 (v2) main for every ctrnet unit test executable; compiled once into ctrnet_catch_main.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
