"""Run at commit ffac38b (before the layer restructure) to write the legacy checkpoint fixtures.

    git worktree add /tmp/old ffac38b && cd /tmp/old && PYTHONPATH=$PWD python make_legacy_fixture.py OUT
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from mmed_core.checkpoint import save_checkpoint
from mmed_core.config import ModelConfig
from mmed_core.model import create_model
from mmed_core.modalities import prepare_inputs

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
raw = {"rgb": torch.rand(1, 3, 30, 42) * 255, "depth": torch.rand(1, 1, 30, 42) * 9 + 0.5,
       "label": torch.randint(0, 12, (1, 30, 42))}
save_file({k: v.contiguous() for k, v in raw.items()}, str(out / "inputs.safetensors"))
for name, cfg in {
    "mmed": ModelConfig.preset("tiny", input_size=(32, 44)),
    "mae": ModelConfig.preset("tiny", method="mae", mae_grid=(6, 8), mae_hidden=24, mae_latent=8),
    "enc-decs": ModelConfig.preset("tiny", method="enc-decs"),
}.items():
    torch.manual_seed(1)
    model = create_model(cfg)
    # A few train-mode forwards so BatchNorm running statistics are not the defaults.
    x = prepare_inputs({k: v[..., :28, :40] for k, v in raw.items() if k in model.encoders}, cfg)
    with torch.no_grad():
        for _ in range(3):
            model.train()(x)
    model.eval()
    save_checkpoint(out / f"{name}.safetensors", model, dataset="synthetic")
    with torch.no_grad():
        y = model(prepare_inputs({k: v for k, v in raw.items() if k in model.encoders}, cfg), pad=True)
    save_file({f"{s}->{d}": t.contiguous() for (s, d), t in y.items()}, str(out / f"{name}.expected.safetensors"))
    print(name, sorted(f"{s}->{d}" for s, d in y), sum(p.numel() for p in model.parameters()))
