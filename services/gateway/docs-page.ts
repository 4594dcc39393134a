export const DOCS_PAGE_HTML = "<!doctype html><title>docs</title>";
