#!/usr/bin/python3
"""Golden files for Shoal's Llama-3 engine and checkpoint I/O, computed by plain PyTorch.

What it writes (all float32, CPU; tensors as safetensors with HF names, everything else JSON):
  runtime/src/test/resources/golden/tiny/
    config.json                  HF LlamaForCausalLM config of the `tiny` preset
    model.safetensors            seeded random initial weights (F32, HF names and shapes)
    inputs.json                  tokens [B=2][T=16] and targets [B][T] (targets[b][t] is the token
                                 after tokens[b][t]; a few are -100 = ignored)
    logits.safetensors           "logits" [B, T, V] of the initial weights
    grads.safetensors            d(loss)/d(param) for every parameter, by HF name
    expected.json                loss, grad_norm, the 5-step AdamW run (losses and pre-clip grad
                                 norms per step, the loss after step 5, the elements where the float32
                                 weights differ from a float64 rerun by > 1e-6) and the `shoal loss` CLI case
    weights_after_5.safetensors  every parameter after 5 AdamW steps
  runtime/src/test/resources/golden/tiny-rope31/
    config.json                  the same model with rope_scaling {rope_type: llama3, factor 4,
                                 low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 64}
                                 (a short original context so all three frequency bands occur in 16 positions)
    logits.safetensors, expected.json (loss only); weights and inputs are ../tiny's (to keep fixtures small)
  runtime/src/test/resources/hf/rounding.json
    tricky float32 values with torch's bf16 and f16 bit patterns (round to nearest even)

The model follows Hugging Face transformers' modeling_llama (LlamaForCausalLM) without importing
transformers: RMSNorm in fp32, RoPE with rotate_half (and optional llama3 frequency scaling as in
_compute_llama3_parameters), grouped-query attention via repeat_kv, causal softmax attention scaled
by 1/sqrt(head_dim), SwiGLU MLP, untied lm_head. Loss: mean cross-entropy over targets != -100.
AdamW: torch.optim.AdamW(lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight_decay 0.1 on 2-D weights and
0 on norm weights, foreach=False), clip_grad_norm_(params, 1.0) before every step; all 5 steps use
the same batch.

Regenerate (Debian's python with torch 1.13, not the pyenv python3 on PATH), from the repo root:
    /usr/bin/python3 runtime/src/test/python/gen_golden.py
CI never runs this: the outputs are committed.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources")
B, T = 2, 16
SEED = 1234

TINY = dict(layers=2, dim=64, heads=4, kv_heads=2, ffn=176, vocab=512, eps=1e-5, theta=500000.0,
            max_pos=256, rope_scaling=None)
ROPE31 = dict(TINY, rope_scaling=dict(factor=4.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                      original_max_position_embeddings=64))


# ---------------------------------------------------------------- file formats

def write_safetensors(path, tensors):
    """Minimal safetensors writer (F32 only): header JSON padded to 8 bytes, then packed data."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for d in blobs:
            f.write(d)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def hf_config(c):
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": c["dim"], "intermediate_size": c["ffn"], "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"], "num_key_value_heads": c["kv_heads"],
        "head_dim": c["dim"] // c["heads"], "vocab_size": c["vocab"], "rms_norm_eps": c["eps"],
        "rope_theta": c["theta"], "max_position_embeddings": c["max_pos"],
        "rope_scaling": None if c["rope_scaling"] is None else dict(c["rope_scaling"], rope_type="llama3"),
        "tie_word_embeddings": False, "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
        "torch_dtype": "float32",
    }


# ---------------------------------------------------------------- the model (after HF modeling_llama)

def init_weights(c, gen):
    C, V, Fd = c["dim"], c["vocab"], c["ffn"]
    kv = c["kv_heads"] * (C // c["heads"])

    def normal(*shape):
        return torch.randn(*shape, generator=gen) * 0.02

    def norm_weight():
        return 1.0 + 0.2 * torch.randn(C, generator=gen)  # not all ones, so norm bugs show

    w = {"model.embed_tokens.weight": normal(V, C)}
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm_weight()
        w[p + "self_attn.q_proj.weight"] = normal(C, C)
        w[p + "self_attn.k_proj.weight"] = normal(kv, C)
        w[p + "self_attn.v_proj.weight"] = normal(kv, C)
        w[p + "self_attn.o_proj.weight"] = normal(C, C)
        w[p + "post_attention_layernorm.weight"] = norm_weight()
        w[p + "mlp.gate_proj.weight"] = normal(Fd, C)
        w[p + "mlp.up_proj.weight"] = normal(Fd, C)
        w[p + "mlp.down_proj.weight"] = normal(C, Fd)
    w["model.norm.weight"] = norm_weight()
    w["lm_head.weight"] = normal(V, C)
    return {k: v.float().requires_grad_(True) for k, v in w.items()}


def rms_norm(x, weight, eps):
    x32 = x.to(torch.promote_types(x.dtype, torch.float32))  # fp32 as HF (fp64 stays fp64)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def llama3_inv_freq(inv_freq, s):
    """HF _compute_llama3_parameters: divide long wavelengths by factor, keep short ones, blend between."""
    factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old_ctx = s["original_max_position_embeddings"]
    low_freq_wavelen = old_ctx / low
    high_freq_wavelen = old_ctx / high
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rope_cos_sin(c, T_):
    hd = c["dim"] // c["heads"]
    inv_freq = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    if c["rope_scaling"] is not None:
        inv_freq = llama3_inv_freq(inv_freq, c["rope_scaling"])
    pos = torch.arange(T_, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq[None, :]  # (T, hd/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, hd)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, nkv, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, hd).reshape(b, nkv * n_rep, t, hd)


def forward(c, w, tokens):
    Bn, Tn = tokens.shape
    C, NH, NKV = c["dim"], c["heads"], c["kv_heads"]
    hd = C // NH
    cos, sin = rope_cos_sin(c, Tn)
    causal = torch.full((Tn, Tn), float("-inf")).triu(1)
    h = F.embedding(tokens, w["model.embed_tokens.weight"])
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], c["eps"])
        q = (x @ w[p + "self_attn.q_proj.weight"].T).view(Bn, Tn, NH, hd).transpose(1, 2)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).view(Bn, Tn, NKV, hd).transpose(1, 2)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).view(Bn, Tn, NKV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, NH // NKV), repeat_kv(v, NH // NKV)
        att = (q @ k.transpose(2, 3)) / math.sqrt(hd) + causal
        att = F.softmax(att, dim=-1, dtype=torch.promote_types(att.dtype, torch.float32))
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        h = h + y @ w[p + "self_attn.o_proj.weight"].T
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], c["eps"])
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (F.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rms_norm(h, w["model.norm.weight"], c["eps"])
    return h @ w["lm_head.weight"].T  # (B, T, V)


def loss_of(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def grads_of(c, w, tokens, targets):
    for p in w.values():
        p.grad = None
    logits = forward(c, w, tokens)
    loss = loss_of(logits, targets)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in w.items()}
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())).item()
    return logits.detach(), loss.item(), grads, norm


def adamw_run(c, w, tokens, targets, dtype):
    """5 AdamW steps (clip 1.0 before each) in dtype from w; returns weights, losses, pre-clip norms, final loss."""
    w2 = {k: v.detach().clone().to(dtype).requires_grad_(True) for k, v in w.items()}
    decay = [p for p in w2.values() if p.dim() == 2]
    no_decay = [p for p in w2.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    losses, norms = [], []
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        l = loss_of(forward(c, w2, tokens), targets)
        l.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(list(w2.values()), 1.0).item())
        losses.append(l.item())
        opt.step()
    with torch.no_grad():
        final_loss = loss_of(forward(c, w2, tokens), targets).item()
    return w2, losses, norms, final_loss


# ---------------------------------------------------------------- outputs

def gen_tiny():
    c = TINY
    out = os.path.join(ROOT, "golden", "tiny")
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    w = init_weights(c, gen)
    seq = torch.randint(0, c["vocab"], (B, T + 1), generator=gen)
    tokens, targets = seq[:, :T].clone(), seq[:, 1:].clone()
    for b, t in [(0, 3), (0, 15), (1, 0), (1, 7), (1, 8)]:
        targets[b, t] = -100

    write_json(os.path.join(out, "config.json"), hf_config(c))
    write_safetensors(os.path.join(out, "model.safetensors"), w)
    write_json(os.path.join(out, "inputs.json"), {"tokens": tokens.tolist(), "targets": targets.tolist()})

    logits, loss, grads, gnorm = grads_of(c, w, tokens, targets)
    write_safetensors(os.path.join(out, "logits.safetensors"), {"logits": logits})
    write_safetensors(os.path.join(out, "grads.safetensors"), grads)

    # the `shoal loss` CLI case: the full sequences, every next token counted
    cli_tokens, cli_targets = seq[:, :-1], seq[:, 1:]
    _, cli_loss, _, cli_gnorm = grads_of(c, w, cli_tokens, cli_targets)

    # 5 AdamW steps on the same batch, from a copy of the initial weights
    w2, losses, norms, final_loss = adamw_run(c, w, tokens, targets, torch.float32)
    write_safetensors(os.path.join(out, "weights_after_5.safetensors"), w2)
    # The same run in float64 tells where the float32 reference itself is uncertain: Adam's update
    # m/(sqrt(v)+eps) is ill-conditioned for a gradient near eps, so float32 summation noise in such a
    # gradient moves the weight by up to lr·noise/eps per step. Elements whose float32 and float64
    # results differ by more than 1e-6 are listed with both values.
    w64, _, _, _ = adamw_run(c, w, tokens, targets, torch.float64)
    uncertain = []
    for k in w2:
        d = (w2[k].detach().double() - w64[k].detach()).abs().flatten()
        for i in (d > 1e-6).nonzero().flatten().tolist():
            uncertain.append({"name": k, "index": i, "f32": w2[k].detach().flatten()[i].item(),
                              "f64": w64[k].detach().flatten()[i].item()})
    max64 = max((w2[k].detach().double() - w64[k].detach()).abs().max().item() for k in w2)

    write_json(os.path.join(out, "expected.json"), {
        "torch": torch.__version__, "seed": SEED, "B": B, "T": T,
        "loss": loss, "grad_norm": gnorm,
        "adamw": {"lr": 1e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1,
                  "weight_decay_applies_to": "2-D weights (not norm weights)", "clip_grad_norm": 1.0,
                  "losses": losses, "grad_norms_before_clip": norms, "loss_after_5": final_loss,
                  "float64_max_abs_diff": max64, "float64_uncertain": uncertain},
        "cli": {"tokens": seq.tolist(), "loss": cli_loss, "grad_norm": cli_gnorm, "positions": B * T},
    })
    print(f"tiny: loss {loss:.6f} grad_norm {gnorm:.6f} adamw losses {[round(x, 5) for x in losses]}")
    return w, tokens, targets


def gen_rope31(w, tokens, targets):
    c = ROPE31
    out = os.path.join(ROOT, "golden", "tiny-rope31")
    os.makedirs(out, exist_ok=True)
    with torch.no_grad():
        logits = forward(c, w, tokens)
        loss = loss_of(logits, targets).item()
        loss_plain = loss_of(forward(TINY, w, tokens), targets).item()
    write_json(os.path.join(out, "config.json"), hf_config(c))
    write_safetensors(os.path.join(out, "logits.safetensors"), {"logits": logits})
    write_json(os.path.join(out, "expected.json"), {
        "torch": torch.__version__, "loss": loss, "weights": "../tiny/model.safetensors",
        "inputs": "../tiny/inputs.json"})
    print(f"tiny-rope31: loss {loss:.6f} (without scaling {loss_plain:.6f})")


def gen_rounding():
    """Tricky float32 values and torch's bf16/f16 bits for them (ties, overflow, subnormals, specials)."""
    def f32(b):
        return struct.unpack("<f", struct.pack("<I", b))[0]
    bits = [
        0x3F800000, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF,  # 1.0; bf16 tie even/odd; just above/below
        0x3F801000, 0x3F803000,  # f16 ties: even stays, odd rounds up
        0x7F7FFFFF, 0x7F7F7FFF,  # float max (bf16 -> inf), just under the bf16 overflow point
        0x477FEFFF, 0x477FF000, 0x477FE000,  # f16: below the overflow tie, the tie (-> inf), f16 max
        0x33000000, 0x33000001, 0x33C00000, 0x33800000,  # f16 subnormal ties and the smallest subnormal
        0x387FC000, 0x387FF000, 0x38800000,  # f16 subnormal->normal boundary
        0x00000001, 0x80000001, 0x007FFFFF,  # f32 subnormals
        0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,  # -0, +-inf, +-nan
        0xBF9E0652, 0x40490FDB, 0xC2F6E979, 0x3DCCCCCD, 0x4B7FFFFF,  # ordinary values
    ]
    g = torch.Generator().manual_seed(7)
    rnd = (torch.randn(24, generator=g) * torch.tensor([1e-6, 1e-3, 1, 1e3, 1e5, 1e30] * 4)).view(torch.int32)
    bits += [int(x) & 0xFFFFFFFF for x in rnd]
    t = torch.tensor([f32(b) for b in bits], dtype=torch.float32)
    bf = [int(x) & 0xFFFF for x in t.to(torch.bfloat16).view(torch.int16)]
    hf = [int(x) & 0xFFFF for x in t.to(torch.float16).view(torch.int16)]
    rows = [{"f32": "%08x" % b, "bf16": "%04x" % x, "f16": "%04x" % y} for b, x, y in zip(bits, bf, hf)]
    os.makedirs(os.path.join(ROOT, "hf"), exist_ok=True)
    with open(os.path.join(ROOT, "hf", "rounding.json"), "w") as f:
        f.write('{"torch": "%s", "values": [\n' % torch.__version__)
        f.write(",\n".join(json.dumps(r) for r in rows))
        f.write("\n]}\n")


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # one summation order, reproducible runs
    gen_rounding()
    w, tokens, targets = gen_tiny()
    gen_rope31(w, tokens, targets)


if __name__ == "__main__":
    sys.exit(main())
