<?php
/*
 * php render.php < form_post.json > page.html
 *
 * Renders cmi-form.php for one next_action.form_post given as JSON on standard input
 * ({"url": "...", "fields": {"clientid": "...", ...}}): how a shop feeds the template, and what
 * paygate's browser test (tests/api/browser/cmi_form.rs) runs.
 */
$formPost = json_decode(stream_get_contents(STDIN), true, 16, JSON_THROW_ON_ERROR);
require __DIR__ . '/cmi-form.php';
