"""One PPO iteration in plain PyTorch eager mode, timed by phase: the yardstick
`scripts/bench --vs-pytorch` runs beside rlhf4j's own iteration, on the same
shapes. Written the way a PyTorch user would (nn.Module GPT-2, a KV cache,
torch.optim.AdamW), with no rlhf4j code. Prints one JSON line.

    python3 bench/pytorch_ppo.py --layers 8 --d-model 512 ... [--dtype f32|bf16]
    python3 bench/pytorch_ppo.py --workload grpo --samples 8 --lengths 17,203,... (GRPO, forced lengths)
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from machine_load import cpu_ticks, machine_load

PHASES = ("rollout", "ref", "reward", "learn")  # the iteration; "optimizer" is a part of learn


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.attn_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, bias, cache=None):  # x (B, T, d); bias (B, 1, T, S)
        B, T, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(B, T, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1)) + bias
        y = (F.softmax(att.float(), dim=-1).to(v.dtype) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, vocab, positions, d, layers, heads, head=None):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(positions, d)
        self.h = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1) if head else None  # value head or reward head
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def hidden(self, tokens, start=0, caches=None):
        B, T = tokens.shape
        S = start + T
        causal = torch.ones(T, S, dtype=torch.bool).tril(diagonal=start)
        bias = torch.zeros(T, S, dtype=self.wte.weight.dtype).masked_fill(~causal, torch.finfo(self.wte.weight.dtype).min)
        x = self.wte(tokens) + self.wpe(torch.arange(start, S))
        for i, block in enumerate(self.h):
            x = block(x, bias, caches[i] if caches is not None else None)
        return self.ln_f(x)

    def logits(self, h):
        return F.linear(h, self.wte.weight).float()  # tied head, log-softmax in float32


def logprobs_of(logits, tokens):
    return torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def rollout(policy, prompts, new_tokens, gen):
    caches = [dict() for _ in policy.h]
    h = policy.hidden(prompts, 0, caches)[:, -1]
    tokens, logps, values = [], [], []
    for t in range(new_tokens):
        logits = policy.logits(h)
        token = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(-1)
        tokens.append(token)
        logps.append(logprobs_of(logits, token))
        values.append(policy.head(h).squeeze(-1).float())
        if t + 1 < new_tokens:
            h = policy.hidden(token.unsqueeze(1), prompts.size(1) + t, caches)[:, -1]
    return torch.stack(tokens, 1), torch.stack(logps, 1), torch.stack(values, 1)


def score(model, seq, P, values=False):
    h = model.hidden(seq)[:, P - 1 : -1]  # states that predict the response tokens
    lp = logprobs_of(model.logits(h), seq[:, P:])
    return (lp, model.head(h).squeeze(-1).float()) if values else lp


def whiten(x):
    return (x - x.mean()) / (x.std() + 1e-8)


def optimizer_step(policy, opt):
    """Clip, step and zero the gradients; its seconds, as rlhf4j's time/optimizer counts them."""
    t0 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def iteration(policy, ref, reward, opt, prompts, a, seed):
    t = {}
    P = prompts.size(1)
    t0 = time.perf_counter()
    with torch.no_grad():
        response, old_logp, old_values = rollout(policy, prompts, a.new_tokens, torch.Generator().manual_seed(seed))
        seq = torch.cat([prompts, response], 1)
        t1 = time.perf_counter()
        ref_logp = score(ref, seq, P)
        t2 = time.perf_counter()
        scores = reward.head(reward.hidden(seq)[:, -1]).squeeze(-1).float()
        t3 = time.perf_counter()
        # Rewards: -kl_coef * (old - ref) per token, the score on the last; GAE(1, 0.95).
        rewards = -0.05 * (old_logp - ref_logp)
        rewards[:, -1] += scores
        adv, last = torch.zeros_like(rewards), torch.zeros(rewards.size(0))
        for i in reversed(range(rewards.size(1))):
            nxt = old_values[:, i + 1] if i + 1 < rewards.size(1) else torch.zeros_like(last)
            last = rewards[:, i] + nxt - old_values[:, i] + 0.95 * last
            adv[:, i] = last
        returns = adv + old_values
        adv = whiten(adv)
    shuffle = torch.Generator().manual_seed(seed)
    optimizer = 0.0  # the part of learn in optimizer_step
    for _ in range(a.epochs):
        order = torch.randperm(a.batch, generator=shuffle)
        for s in range(0, a.batch, a.minibatch):
            idx = order[s : s + a.minibatch]
            logp, values = score(policy, seq[idx], P, values=True)
            ratio = torch.exp(logp - old_logp[idx])
            pg_loss = torch.max(-adv[idx] * ratio, -adv[idx] * ratio.clamp(0.8, 1.2)).mean()
            v_clipped = old_values[idx] + (values - old_values[idx]).clamp(-0.2, 0.2)
            vf_loss = torch.max((values - returns[idx]) ** 2, (v_clipped - returns[idx]) ** 2).mean()
            loss = pg_loss + 0.1 * vf_loss
            loss.backward()
            optimizer += optimizer_step(policy, opt)
    t4 = time.perf_counter()
    t.update(rollout=t1 - t0, ref=t2 - t1, reward=t3 - t2, learn=t4 - t3, optimizer=optimizer)
    return t


def grpo_iteration(policy, ref, reward, opt, prompts, a, seed, lengths):
    """GRPO as a static batch runs it: every row decodes until the longest forced length (a
    finished row feeds padding, as generate() does), the minibatch pads to the batch's width."""
    t = {}
    rows = prompts.repeat_interleave(a.samples, 0)
    P, n, longest = rows.size(1), rows.size(0), int(lengths.max())
    t0 = time.perf_counter()
    with torch.no_grad():
        caches = [dict() for _ in policy.h]
        h = policy.hidden(rows, 0, caches)[:, -1]
        gen = torch.Generator().manual_seed(seed)
        tokens, logps = [], []
        for i in range(longest):
            logits = policy.logits(h)
            token = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(-1)
            token = torch.where(lengths > i, token, torch.zeros_like(token))  # past its length: padding
            tokens.append(token)
            logps.append(logprobs_of(logits, token))
            if i + 1 < longest:
                h = policy.hidden(token.unsqueeze(1), P + i, caches)[:, -1]
        response, old_logp = torch.stack(tokens, 1), torch.stack(logps, 1)
        mask = (torch.arange(longest).unsqueeze(0) < lengths.unsqueeze(1)).float()
        seq = torch.cat([rows, response], 1)
        t1 = time.perf_counter()
        ref_logp = score(ref, seq, P)  # the reference pass rlhf4j makes too (the KL metric)
        t2 = time.perf_counter()
        last = reward.hidden(seq)[torch.arange(n), P + lengths - 1]
        scores = reward.head(last).squeeze(-1).float()
        t3 = time.perf_counter()
        grouped = scores.view(-1, a.samples)
        adv = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
        del ref_logp
    shuffle = torch.Generator().manual_seed(seed)
    optimizer = 0.0  # the part of learn in optimizer_step
    for _ in range(a.epochs):
        order = torch.randperm(n, generator=shuffle)
        for s in range(0, n, a.minibatch):
            idx = order[s : s + a.minibatch]
            logp = score(policy, seq[idx], P)
            ratio = torch.exp(logp - old_logp[idx])
            A = adv[idx].unsqueeze(1)
            pg = torch.max(-A * ratio, -A * ratio.clamp(0.8, 1.2))
            loss = (pg * mask[idx]).sum() / mask[idx].sum()
            loss.backward()
            optimizer += optimizer_step(policy, opt)
    t4 = time.perf_counter()
    t.update(rollout=t1 - t0, ref=t2 - t1, reward=t3 - t2, learn=t4 - t3, optimizer=optimizer)
    return t


def main():
    p = argparse.ArgumentParser(description=__doc__)
    for name, default in [("layers", 8), ("d-model", 512), ("heads", 8), ("vocab", 50257), ("batch", 16),
                          ("prompt-len", 64), ("new-tokens", 64), ("minibatch", 8), ("epochs", 4), ("repeats", 1),
                          ("threads", 0)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--workload", choices=["ppo", "grpo"], default="ppo")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--lengths", default="", help="grpo: each row's forced response length, comma-separated")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    positions = a.prompt_len + a.new_tokens
    shape = (a.vocab, positions, a.d_model, a.layers, a.heads)
    grpo = a.workload == "grpo"
    policy, ref, reward = Gpt2(*shape, head=not grpo), Gpt2(*shape), Gpt2(*shape, head=True)
    ref.load_state_dict({k: v for k, v in policy.state_dict().items() if not k.startswith("head")})
    for m in (policy, ref, reward):
        m.to(dtype)
    # bf16 as rlhf4j does it would keep float32 masters; plain PyTorch users step the bf16 weights.
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-6, weight_decay=0.0)
    prompts = torch.randint(0, a.vocab, (a.batch, a.prompt_len), generator=torch.Generator().manual_seed(7))
    if grpo:
        lengths = torch.tensor([int(x) for x in a.lengths.split(",")])
        if lengths.numel() != a.batch * a.samples or int(lengths.max()) > a.new_tokens or int(lengths.min()) < 1:
            p.error("--lengths must hold batch x samples lengths in [1, new_tokens]")
        run = lambda i: grpo_iteration(policy, ref, reward, opt, prompts, a, i, lengths)
    else:
        run = lambda i: iteration(policy, ref, reward, opt, prompts, a, i)
    run(0)  # warms up
    before, cpu0, wall0 = cpu_ticks(), time.process_time(), time.perf_counter()
    runs = [run(i) for i in range(1, a.repeats + 1)]
    load = machine_load(before, cpu_ticks(), time.process_time() - cpu0, time.perf_counter() - wall0)
    median = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}
    print(json.dumps({"torch": torch.__version__, "dtype": a.dtype, "threads": torch.get_num_threads(),
                      "seconds": median, "total_seconds": sum(median[k] for k in PHASES), **load}))


if __name__ == "__main__":
    main()
