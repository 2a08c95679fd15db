"""GRU Explorer: `streamlit run app.py`."""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from pages.common import model_picker

# Our pages/ folder holds st.navigation pages, not Streamlit's older auto-discovered
# pages: without this, a link straight to /compare would run that page without app.py.
PagesManager.uses_pages_directory = False

st.set_page_config(page_title="GRU Explorer", page_icon="docs/icon.png", layout="wide")

page = st.navigation([
    st.Page("pages/explorer.py", title="Gate Explorer", icon=":material/tune:", default=True),
    st.Page("pages/cell.py", title="Inside the cell", icon=":material/memory:"),
    st.Page("pages/units.py", title="Unit atlas", icon=":material/grid_view:"),
    st.Page("pages/compare.py", title="GRU vs LSTM", icon=":material/compare_arrows:"),
    st.Page("pages/slices.py", title="Where models fail", icon=":material/rule:"),
    st.Page("pages/dynamics.py", title="Dynamics", icon=":material/timeline:"),
    st.Page("pages/descent.py", title="Gradient descent", icon=":material/trending_down:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
])
model_picker()  # shared control, drawn once in the sidebar
page.run()
