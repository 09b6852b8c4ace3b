#!/usr/bin/env bash
# Placeholder until the CPU stand-ins land (next commits).
echo "[sam4j] CUDA stand-in: not built yet"
