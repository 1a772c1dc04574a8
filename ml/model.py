"""The Wav2Lip generator, checkpoint-compatible with the official weights.

Module and parameter names follow the reference exactly so that an official
state dict loads with ``strict=True`` (see ``tests/ml/state_dict_keys.tsv``).
"""

from __future__ import annotations

import torch
from torch import nn


class Conv2d(nn.Module):
    """Conv + BatchNorm (+ residual) + ReLU; children named like the reference."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, residual: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class Conv2dTranspose(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _res(ch: int) -> Conv2d:
    return Conv2d(ch, ch, 3, 1, 1, residual=True)


def _up(cin: int, cout: int) -> Conv2dTranspose:
    return Conv2dTranspose(cin, cout, 3, 2, 1, output_padding=1)


class Wav2Lip(nn.Module):
    """Generator: (audio chunk (B,1,80,16), face (B,6,96,96)) -> face (B,3,96,96)."""

    def __init__(self) -> None:
        super().__init__()
        S = nn.Sequential
        self.face_encoder_blocks = nn.ModuleList(
            [
                S(Conv2d(6, 16, 7, 1, 3)),
                S(Conv2d(16, 32, 3, 2, 1), _res(32), _res(32)),
                S(Conv2d(32, 64, 3, 2, 1), _res(64), _res(64), _res(64)),
                S(Conv2d(64, 128, 3, 2, 1), _res(128), _res(128)),
                S(Conv2d(128, 256, 3, 2, 1), _res(256), _res(256)),
                S(Conv2d(256, 512, 3, 2, 1), _res(512)),
                S(Conv2d(512, 512, 3, 1, 0), Conv2d(512, 512, 1, 1, 0)),
            ]
        )
        self.audio_encoder = S(
            Conv2d(1, 32, 3, 1, 1),
            _res(32),
            _res(32),
            Conv2d(32, 64, 3, (3, 1), 1),
            _res(64),
            _res(64),
            Conv2d(64, 128, 3, 3, 1),
            _res(128),
            _res(128),
            Conv2d(128, 256, 3, (3, 2), 1),
            _res(256),
            Conv2d(256, 512, 3, 1, 0),
            Conv2d(512, 512, 1, 1, 0),
        )
        self.face_decoder_blocks = nn.ModuleList(
            [
                S(Conv2d(512, 512, 1, 1, 0)),
                S(Conv2dTranspose(1024, 512, 3, 1, 0), _res(512)),
                S(_up(1024, 512), _res(512), _res(512)),
                S(_up(768, 384), _res(384), _res(384)),
                S(_up(512, 256), _res(256), _res(256)),
                S(_up(320, 128), _res(128), _res(128)),
                S(_up(160, 64), _res(64), _res(64)),
            ]
        )
        self.output_block = S(Conv2d(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, audio: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        x = self.audio_encoder(audio)
        feats = []
        f = face
        for block in self.face_encoder_blocks:
            f = block(f)
            feats.append(f)
        for block in self.face_decoder_blocks:
            x = block(x)
            x = torch.cat((x, feats.pop()), dim=1)
        return self.output_block(x)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
