// AMX tile configuration shared by the AMX kernels (int8_gemm_amx.cpp, gemm_4bit_amx.cpp).
// Include only from sources compiled with -mamx-tile.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace bnb::cpu::amx {

// The 64-byte operand of ldtilecfg (palette 1).
struct TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

constexpr TileConfig full_tiles() {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  return cfg;
}

// Tiles 0-7 as 16 rows of 64 bytes each, on the calling thread. The configuration is a constant in static
// storage: GCC's _tile_loadconfig declares only 8 bytes of its operand as read, so a configuration built on
// the stack may lose its other stores once inlined (seen with GCC 12 at -O3: ldtilecfg read uninitialized
// bytes and faulted).
inline void configure_tiles() {
  alignas(64) static constexpr TileConfig kFullTiles = full_tiles();
  _tile_loadconfig(&kFullTiles);
}

}  // namespace bnb::cpu::amx
