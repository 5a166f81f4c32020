"""One file per dashboard page, run by `st.navigation` from `dashboard/app.py`.

The folder is deliberately not called `pages/`: Streamlit treats a `pages/` folder
beside the main script as a legacy multipage app and can show it in the sidebar
before `st.navigation` runs.
"""
