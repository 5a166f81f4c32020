"""GAN page: samples per epoch, D/G losses, Fréchet distance, fresh samples, and the
discriminator's SHAP explanation of a chosen sample."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, model_data, ui


def _explain_sample(root: str, ref: str, images: object, source: str) -> None:
    import explain

    st.subheader("What the discriminator looks at")
    n = len(images)  # type: ignore[arg-type]
    i = int(st.number_input("Sample (row-major in the grid)", 0, n - 1, 0, key="gan_sample"))
    x = images[i : i + 1]  # type: ignore[index]
    sample = f"gan:{source}:{i}"
    st.image(charts.digit(x[0], low=-1.0), caption=f"sample {i}", width=96)
    if st.button("Explain with the discriminator", key="gan_explain"):
        st.session_state["gan_explained"] = (ref, sample)
    if st.session_state.get("gan_explained") != (ref, sample):
        return
    e, meta, fid = data.explained(root, ref, sample, x)
    cols = st.columns(2)
    cols[0].metric("method", meta.method)
    cols[1].metric("additivity error (max)", f"{fid['additivity_max']:.2g}")
    ui.pyplot(explain.plots.gan_sample(e, index=0))


def body() -> None:
    """The GAN page of the chosen GAN version."""
    # The discriminator's explainer is built in the background while the page is read.
    page = ui.model_page("GAN", families=["gan"], warm_explainer=True)
    if page is None:
        return
    root, ref, m = page.root, page.ref, page.model
    metrics = m.metrics

    cols = st.columns(4)
    for col, key in zip(cols, ["fid_untrained", "fid_final", "fid_best", "fid_ratio"], strict=True):
        value = metrics.get(key)
        col.metric(key.replace("_", " "), f"{value:.4g}" if value is not None else "–")

    samples = model_data.gan_samples(root, ref)
    last = len(samples) - 1
    epoch = st.slider("Epoch (0 = untrained generator)", 0, last, last, key="gan_epoch")
    st.image(
        charts.image_grid(samples[epoch], low=-1.0, scale=6),
        caption=f"the same {samples.shape[1]} noise vectors after epoch {epoch}",
    )

    left, right = st.columns(2)
    with left:
        st.markdown("**Discriminator and generator losses**")
        losses = {k: m.history[k] for k in ("d_loss", "g_loss") if k in m.history}
        if losses:
            st.vega_lite_chart(spec=charts.series_spec(losses), width="stretch")
    with right:
        st.markdown("**Fréchet distance per epoch** (lower is better)")
        fid = metrics.get("fid_by_epoch") or m.history.get("fid")
        if fid:
            st.vega_lite_chart(spec=charts.series_spec({"FID": fid}, start=0), width="stretch")

    st.subheader("Fresh samples")
    seed = int(st.number_input("Noise seed", 0, 2**31 - 1, 0, key="gan_seed"))
    if st.button("Generate fresh samples", key="gan_generate"):
        st.session_state["gan_fresh"] = (ref, seed)
    fresh = st.session_state.get("gan_fresh")
    if fresh is not None and fresh[0] == ref:
        images = model_data.gan_fresh(root, ref, fresh[1])
        st.image(charts.image_grid(images, low=-1.0, scale=6), caption=f"seed {fresh[1]}")
        _explain_sample(root, ref, images, f"fresh{fresh[1]}")
    else:
        st.caption("Or explain a sample of the grid above:")
        _explain_sample(root, ref, samples[epoch], f"epoch{epoch}")


ui.run_page(body)
