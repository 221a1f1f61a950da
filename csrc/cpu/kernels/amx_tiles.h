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

// Tiles 0-7 as 16 rows of 64 bytes each, on the calling thread.
inline void configure_tiles() {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  _tile_loadconfig(&cfg);
}

}  // namespace bnb::cpu::amx
