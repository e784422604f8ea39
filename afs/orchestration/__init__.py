"""All that knows Prefect: state -> status, hooks, dispatch, reconcile, reprocess, delete."""
