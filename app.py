"""GRU Explorer: `streamlit run app.py`."""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from gru_core.i18n import _
from pages.common import choose_language, language_picker, model_picker, return_to_page

# Our pages/ folder holds st.navigation pages, not Streamlit's older auto-discovered
# pages: without this, a link straight to /compare would run that page without app.py.
PagesManager.uses_pages_directory = False

st.set_page_config(page_title="GRU Explorer", page_icon="docs/icon.png", layout="wide")
choose_language()  # before anything is drawn: every page's words follow it

page = st.navigation([
    st.Page(page="pages/explorer.py", title=_("Gate Explorer"), icon=":material/tune:", default=True),
    st.Page(page="pages/cell.py", title=_("Inside the cell"), icon=":material/memory:"),
    st.Page(page="pages/units.py", title=_("Unit atlas"), icon=":material/grid_view:"),
    st.Page(page="pages/compare.py", title=_("GRU vs LSTM"), icon=":material/compare_arrows:"),
    st.Page(page="pages/slices.py", title=_("Where models fail"), icon=":material/rule:"),
    st.Page(page="pages/dynamics.py", title=_("Dynamics"), icon=":material/timeline:"),
    st.Page(page="pages/descent.py", title=_("Gradient descent"), icon=":material/trending_down:"),
    st.Page(page="pages/train.py", title=_("Train"), icon=":material/model_training:"),
])
return_to_page()  # a first request straight to a page URL came here through require_app: back to that page
model_picker()  # shared controls, drawn once in the sidebar
language_picker()
page.run()
