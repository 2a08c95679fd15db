"""GRU Explorer: `streamlit run app.py`."""
import streamlit as st

from pages.common import model_picker

st.set_page_config(page_title="GRU Explorer", page_icon="docs/icon.png", layout="wide")

page = st.navigation([
    st.Page("pages/explorer.py", title="Gate Explorer", icon=":material/tune:", default=True),
])
model_picker()  # shared control, drawn once in the sidebar
page.run()
