"""Small Llama-style models in plain PyTorch, used by xinhe.torch's model tests and bench.

`DecoderBlock`: RMSNorm, rotary position embeddings, grouped-query attention through
F.scaled_dot_product_attention, SwiGLU MLP (as in Llama; q/k/v carry a bias, as in Qwen2, so
the linear layers exercise both mm and addmm). `CausalLM`: token embedding, a stack of blocks,
a final RMSNorm and an LM head, with a KV cache and greedy generation. Weights are random and
seeded; nothing is downloaded. Everything runs on whatever device the module is moved to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Config:
    vocab: int = 512
    hidden: int = 256
    intermediate: int = 688
    layers: int = 2
    heads: int = 8
    kv_heads: int = 2
    max_positions: int = 256
    rope_theta: float = 10000.0
    eps: float = 1e-6

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)


def rope_tables(cfg: Config, device=None, dtype=torch.float32):
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float64) / cfg.head_dim))
    t = torch.arange(cfg.max_positions, dtype=torch.float64)
    freqs = torch.outer(t, inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype).to(device), emb.sin().to(dtype).to(device)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x, cos, sin, start: int):
    s = x.shape[-2]
    c, n = cos[start:start + s], sin[start:start + s]
    return x * c + rotate_half(x) * n


class Attention(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden, cfg.heads * d, bias=True)
        self.k_proj = nn.Linear(cfg.hidden, cfg.kv_heads * d, bias=True)
        self.v_proj = nn.Linear(cfg.hidden, cfg.kv_heads * d, bias=True)
        self.o_proj = nn.Linear(cfg.heads * d, cfg.hidden, bias=False)

    def forward(self, x, cos, sin, cache: Optional[list] = None, start: int = 0):
        b, s, _ = x.shape
        d = self.cfg.head_dim
        q = self.q_proj(x).view(b, s, self.cfg.heads, d).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.cfg.kv_heads, d).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.cfg.kv_heads, d).transpose(1, 2)
        q = apply_rope(q, cos, sin, start)
        k = apply_rope(k, cos, sin, start)
        if cache is not None:
            if cache:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        # Causal within the prompt; a decode step (s == 1) sees every cached key.
        o = F.scaled_dot_product_attention(q, k, v, is_causal=s > 1, enable_gqa=True)
        return self.o_proj(o.transpose(1, 2).reshape(b, s, self.cfg.heads * d))


class MLP(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden, cfg.intermediate, bias=False)
        self.up_proj = nn.Linear(cfg.hidden, cfg.intermediate, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate, cfg.hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderBlock(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.input_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.attn = Attention(cfg)
        self.post_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache=None, start: int = 0):
        x = x + self.attn(self.input_norm(x), cos, sin, cache, start)
        return x + self.mlp(self.post_norm(x))


class CausalLM(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.hidden)
        self.blocks = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.hidden, cfg.eps)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        cos, sin = rope_tables(cfg)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, tokens, caches: Optional[list] = None, start: int = 0):
        x = self.embed(tokens)
        cos, sin = self.cos.to(x.dtype), self.sin.to(x.dtype)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, caches[i] if caches is not None else None, start)
        return self.lm_head(self.norm(x))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, steps: int) -> torch.Tensor:
        """Greedy decoding with a KV cache: one prefill, then one token per step."""
        caches = [[] for _ in self.blocks]
        logits = self(prompt, caches, 0)
        out = [logits[:, -1].argmax(-1, keepdim=True)]
        pos = prompt.shape[1]
        for _ in range(steps - 1):
            logits = self(out[-1], caches, pos)
            pos += 1
            out.append(logits[:, -1].argmax(-1, keepdim=True))
        return torch.cat(out, dim=1)


def init_weights(module: nn.Module, seed: int) -> nn.Module:
    """Deterministic random weights: norms around 1, projections with std 1/sqrt(fan-in) so
    activations keep their scale, and q/k projections twice that so attention is peaked
    (with tiny logits softmax is nearly uniform and an error in attention would hide)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("norm.weight") or ".input_norm." in name or ".post_norm." in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                std = p.shape[1] ** -0.5 * (2.0 if ("q_proj" in name or "k_proj" in name) else 1.0)
                p.copy_(std * torch.randn(p.shape, generator=g))
    return module
