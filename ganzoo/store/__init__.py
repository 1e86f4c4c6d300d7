"""What a run folder and an export hold, and how each file is written and read back:
checkpoints (:mod:`.checkpoint`), ``config.json`` and ``metrics.jsonl`` (:mod:`.run`), the
``generator.safetensors`` format (:mod:`.generator_file`) and the ONNX metadata an app reads
(:mod:`.onnx_metadata`, torch-free), and the name and switch of onnxruntime's cached optimised
graph beside it (:mod:`.optimized_graph`, torch-free). Writes are atomic; nothing here imports
a trainer.
"""
