"""HeyGem lip-sync engine: Wav2Lip inference as a streaming pipeline.

Plain Python, no Django. The public entry points live in :mod:`ml.pipeline`.
"""
