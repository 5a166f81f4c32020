"""The Streamlit dashboard: thin pages over `zoo` and `explain`.

Run it with `zoo dashboard` (or `streamlit run dashboard/app.py` with ZOO_HOME set).
Every number and figure comes from `zoo` / `explain`; these modules only draw widgets,
cache what is expensive and show errors as messages instead of tracebacks.
"""
