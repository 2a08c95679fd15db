"""Backpropagation through time (analysis/bptt.py) against plain autograd over an independently written unrolled
network, autograd on the native module, finite differences, hand-set one-unit GRUs, and torch.optim.SGD."""
from __future__ import annotations

import copy
import hashlib

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from gru_core.analysis.bptt import backprop, sgd_path, sgd_update, weight_grad_norms, weight_grads
from gru_core.analysis.landscape import session_copy
from gru_core.archs import ARCHS, RESET_AFTER, RESET_BEFORE
from gru_core.model import Prefix, SentimentRNN
from gru_core.predictor import SentimentModel
from gru_core.text import Vocab

from .tiny import WORDS, clone_state, same_state, tiny_model, tiny_module

RTOL = 1e-6


def unrolled(module: SentimentRNN, ids: np.ndarray, label: int) -> dict:
    """The review read by a loop written here from the textbook equations (float64), every state kept with
    retain_grad, and plain autograd over the whole sequence: the total ∂L/∂h_t (and ∂L/∂c_t) as autograd gives
    them, and the parts that go through the GRU's keep path or not."""
    rnn = module.rnn
    w_ih, w_hh = rnn.weight_ih_l0.detach().double(), rnn.weight_hh_l0.detach().double()
    b_ih, b_hh = rnn.bias_ih_l0.detach().double(), rnn.bias_hh_l0.detach().double()
    x = module.embedding.weight.detach().double()[torch.as_tensor(ids)]
    n = rnn.hidden_size
    h = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    hs, cs, zs, fs, os_ = [h], [c], [], [], []
    for t in range(len(ids)):
        gi, gh = w_ih @ x[t] + b_ih, w_hh @ hs[-1] + b_hh
        if module.arch == "gru":
            r = torch.sigmoid(gi[:n] + gh[:n])
            z = torch.sigmoid(gi[n:2 * n] + gh[n:2 * n])
            cand = torch.tanh(gi[2 * n:] + r * gh[2 * n:])
            h = (1 - z) * cand + z * hs[-1]
            zs.append(z.detach())
        elif module.arch == "lstm":
            i, f, g, o = (gi + gh).reshape(4, n)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * cs[-1] + i * g
            h = o * torch.tanh(c)
            fs.append(f.detach())
            os_.append(o.detach())
            c.retain_grad()
            cs.append(c)
        else:
            h = torch.tanh(gi + gh)
        h.retain_grad()
        hs.append(h)
    logit = module.dense.weight.detach().double()[0] @ h + module.dense.bias.detach().double()[0]
    loss = F.binary_cross_entropy_with_logits(logit, torch.tensor(float(label), dtype=torch.float64))
    loss.backward()
    out = {"loss": float(loss.detach()), "grad_h": torch.stack([s.grad for s in hs]).numpy(),
           "z": torch.stack(zs).numpy() if zs else None, "f": torch.stack(fs).numpy() if fs else None,
           "o": torch.stack(os_).numpy() if os_ else None, "c": torch.stack([s.detach() for s in cs]).numpy()}
    if module.arch == "lstm":
        out["grad_c"] = torch.stack([s.grad for s in cs]).numpy()
    return out  # grad_h[0] is ∂L/∂h_0, grad_h[t] is ∂L/∂h_t


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("label", [0, 1])
def test_the_recursion_equals_autograd_over_the_whole_review(tiny_arch_model, label):
    module = tiny_arch_model.module
    ids = np.random.default_rng(1).integers(1, len(WORDS) + 2, size=40)
    bp, ref = backprop(module, ids, label), unrolled(module, ids, label)
    assert bp.loss == pytest.approx(ref["loss"], rel=1e-12)
    assert rel(bp.grad_h, ref["grad_h"][1:]) <= RTOL
    if module.arch == "lstm":
        assert rel(bp.grad_c, ref["grad_c"][1:]) <= RTOL  # total derivative, the path through h_t included


def test_the_two_paths_add_up_to_the_gradient_of_the_state_before_each_word(tiny_arch_model):
    module = tiny_arch_model.module
    ids = np.random.default_rng(2).integers(1, len(WORDS) + 2, size=30)
    bp, ref = backprop(module, ids, 1), unrolled(module, ids, 1)
    state = "grad_c" if module.arch == "lstm" else "grad_h"
    before = ref[state][:-1]  # ∂L/∂state_{t−1} for t = 1..T, from autograd alone
    assert rel(bp.keep + bp.other, before) <= RTOL
    if module.arch == "gru":
        assert rel(bp.keep, ref["z"] * ref["grad_h"][1:]) <= RTOL
    elif module.arch == "lstm":
        assert rel(bp.keep, ref["f"] * ref["grad_c"][1:]) <= RTOL
        # The rest goes through h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1}): ∂L/∂h_{t−1} ⊙ o_{t−1} ⊙ (1 − tanh²(c_{t−1})).
        through_h = ref["grad_h"][1:-1] * ref["o"][:-1] * (1 - np.tanh(ref["c"][1:-1]) ** 2)
        assert rel(bp.other[1:], through_h) <= RTOL and not bp.other[0].any()  # c_0 feeds only the cell path
        assert rel(bp.keep, bp.carried[1]) <= RTOL  # the step's own vjp to c_{t−1} is the cell path
    else:
        assert not bp.keep.any() and rel(bp.other, ref["grad_h"][:-1]) <= RTOL


def test_weight_gradients_equal_autograd_on_the_native_module(tiny_arch_model):
    module = tiny_arch_model.module
    ids = np.random.default_rng(3).integers(1, len(WORDS) + 2, size=25)
    bp = backprop(module, ids, 0)
    m = copy.deepcopy(module).double()
    for p in m.parameters():
        p.requires_grad_(True)
    loss = F.binary_cross_entropy_with_logits(m(torch.as_tensor(ids)[None]), torch.tensor([0.0], dtype=torch.float64))
    loss.backward()
    for name, g in bp.grads.items():
        assert rel(g.numpy(), m.get_parameter(name).grad.numpy()) <= RTOL, name
    emb = m.embedding.weight.grad.numpy()
    assert rel(bp.embedding_grads.numpy(), emb[bp.embedding_ids]) <= RTOL
    others = np.setdiff1d(np.arange(len(emb)), bp.embedding_ids)
    assert not emb[others].any()  # only the review's words get a gradient
    assert not any(p.requires_grad for p in module.parameters())  # the shared module was not touched


@pytest.mark.parametrize("form", [RESET_AFTER, RESET_BEFORE])
def test_a_model_that_reads_padding_first_gets_its_gradient_through_those_steps_too(form):
    """Keras's mask_zero=False: the review starts from the state after its padding and start mark, which depend on
    the weights; the gradients equal autograd over the whole padded sequence (the module's own forward pass)."""
    torch.manual_seed(2)
    module = SentimentRNN("gru", len(WORDS) + 3, 6, 5, gru_form=form, prefix=Prefix(16, True, len(WORDS) + 2))
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.6)
    module.eval().requires_grad_(False)
    ids = np.random.default_rng(4).integers(2, len(WORDS) + 2, size=9)
    bp = backprop(module, ids, 1)
    assert bp.prefix_steps == 16 - 9
    m = copy.deepcopy(module).double().requires_grad_(True)
    logit = m(torch.as_tensor(ids)[None])
    assert bp.p_positive == pytest.approx(float(torch.sigmoid(logit)), abs=1e-9)
    F.binary_cross_entropy_with_logits(logit, torch.tensor([1.0], dtype=torch.float64)).backward()
    for name, g in bp.grads.items():
        assert rel(g.numpy(), m.get_parameter(name).grad.numpy()) <= RTOL, name
    emb = m.embedding.weight.grad.numpy()
    assert {0, len(WORDS) + 2} <= set(bp.embedding_ids.tolist())  # the padding's row and the start mark's
    assert rel(bp.embedding_grads.numpy(), emb[bp.embedding_ids]) <= RTOL
    assert not emb[np.setdiff1d(np.arange(len(emb)), bp.embedding_ids)].any()


def test_finite_differences_on_a_few_weights(arch):
    module = tiny_module(arch, seed=5, std=0.5)
    model = SentimentModel(module, Vocab(WORDS), {"maxlen": 50})
    ids = model.encode("good movie but the plot was awful fun")[1]
    bp = backprop(module, ids, 1)
    m = session_copy(model)
    h = 1e-6
    for name, index in (("rnn.weight_hh_l0", (1, 2)), ("rnn.weight_ih_l0", (3, 0)), ("rnn.bias_hh_l0", (4,)),
                        ("dense.weight", (0, 1)), ("embedding.weight", (int(ids[2]), 1))):
        p = m.get_parameter(name)
        w0 = float(p.data[index])
        losses = []
        for sign in (1, -1):
            p.data[index] = w0 + sign * h
            with torch.no_grad():
                losses.append(float(F.binary_cross_entropy_with_logits(m(torch.as_tensor(ids)[None]),
                                                                       torch.tensor([1.0], dtype=torch.float64))))
        p.data[index] = w0
        fd = (losses[0] - losses[1]) / (2 * h)
        if name == "embedding.weight":
            got = float(bp.embedding_grads[list(bp.embedding_ids).index(index[0]), index[1]])
        else:
            got = float(bp.grads[name][index])
        assert got == pytest.approx(fd, rel=1e-5, abs=1e-8), name


def one_unit_gru(update_bias: float) -> SentimentRNN:
    """A 1-unit GRU on a 1-dimensional embedding: the update gate's bias sets z ≈ σ(bias) at every word."""
    m = SentimentRNN("gru", vocab_size=4, embed_dim=1, hidden=1)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.embedding.weight.copy_(torch.tensor([[0.0], [0.3], [-0.5], [0.8]]))
        m.rnn.weight_ih_l0.copy_(torch.tensor([[0.4], [0.0], [1.0]]))  # reset, update, candidate
        m.rnn.weight_hh_l0.copy_(torch.tensor([[0.2], [0.0], [0.7]]))
        m.rnn.bias_ih_l0[1] = update_bias
        m.dense.weight.fill_(1.5)
    for p in m.parameters():
        p.requires_grad_(False)
    return m.eval()


def test_an_open_update_gate_carries_the_gradient_unchanged_over_100_words():
    m = one_unit_gru(25.0)  # z = σ(25) = 1 − 1.4e−11
    ids = np.tile([1, 2, 3], 34)[:100]
    bp = backprop(m, ids, 1)
    n = bp.norms()
    assert n["grad_h"][0] == pytest.approx(n["grad_h"][-1], rel=1e-8)  # nothing lost over 100 words
    assert np.allclose(n["keep"], n["grad_h"], rtol=1e-9)  # all of it through the keep path
    assert (n["other"] < 1e-9 * n["grad_h"]).all()


def test_a_shut_update_gate_carries_nothing_through_the_keep_path():
    m = one_unit_gru(-25.0)  # z = σ(−25) = 1.4e−11
    ids = np.tile([1, 2, 3], 34)[:100]
    bp = backprop(m, ids, 1)
    n = bp.norms()
    assert (n["keep"] < 1e-10 * n["grad_h"]).all()
    assert rel(bp.other, unrolled(m, ids, 1)["grad_h"][:-1]) <= RTOL  # everything goes through the candidate
    assert n["grad_h"][0] < 1e-6 * n["grad_h"][-1]  # and it fades: each word rewrites the state


@pytest.mark.parametrize("alpha", [0.05, 1.0])
def test_the_sgd_step_equals_torch_optim_sgd(tiny_arch_model, alpha):
    model = tiny_arch_model
    ids = model.encode("the acting was awful but fun")[1]
    before = clone_state(model.module)
    ours = session_copy(model)
    sgd_update(ours, backprop(ours, ids, 1), alpha)
    ref = session_copy(model)
    for p in ref.parameters():
        p.requires_grad_(True)
    opt = torch.optim.SGD(ref.parameters(), lr=alpha)
    F.binary_cross_entropy_with_logits(ref(torch.as_tensor(ids)[None]), torch.tensor([1.0], dtype=torch.float64)
                                       ).backward()
    opt.step()
    for (name, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-12), name
    path = sgd_path(model, ids, 1, alpha, 2, [ids[:3]], [ids[:3], ids])
    assert path["p_final"] == pytest.approx([path["p_follow"][-1, 0], path["p_review"][-1]], abs=1e-6)
    with torch.no_grad():  # the path's copy is in the model's float32
        assert path["p_review"][1] == pytest.approx(float(torch.sigmoid(ref(torch.as_tensor(ids)[None]))), abs=1e-6)
    assert path["p_review"][0] == pytest.approx(model.predict_ids([ids])[0], abs=1e-6)
    assert path["loss"][2] < path["loss"][1] < path["loss"][0]  # small steps on one review lower its loss
    assert same_state(model.module, before)  # the model itself is never changed


def weights_sha256(module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_sgd_path_leaves_the_model_unchanged_by_sha256():
    model = tiny_model("lstm")
    sha = weights_sha256(model.module)
    ids = model.encode("good movie great fun")[1]
    sgd_path(model, ids, 0, 10.0, 5, [ids])
    assert weights_sha256(model.module) == sha


def test_weight_gradient_blocks_are_named_as_the_equations(arch):
    model = tiny_model(arch)
    ids = model.encode("bad plot good acting")[1]
    bp = backprop(model.module, ids, 0)
    g = weight_grads(bp, model.module)
    sym = {"gru": "rzn", "lstm": "ifgo", "rnn": "h"}[arch]
    assert set(g) == ({f"{p}_{s}{c}" for p in "Wb" for s in "ih" for c in sym} | {"W_out", "b_out", "embedding"})
    h = model.module.rnn.hidden_size
    whole = bp.grads["rnn.weight_hh_l0"].numpy()
    for i, c in enumerate(sym):  # each block is its rows of PyTorch's stacked matrix, in the order of archs.py
        assert ARCHS[arch].blocks[i]
        assert np.array_equal(g[f"W_h{c}"], whole[i * h:(i + 1) * h])
    norms = weight_grad_norms(bp, model.module)
    assert norms["embedding"] == pytest.approx(float(bp.embedding_grads.norm()))


def test_no_words_and_bad_labels_are_refused():
    module = tiny_module("gru")
    with pytest.raises(ValueError, match="no words"):
        backprop(module, np.array([], dtype=np.int64), 1)
    with pytest.raises(ValueError, match="label"):
        backprop(module, np.array([2, 3]), 2)
