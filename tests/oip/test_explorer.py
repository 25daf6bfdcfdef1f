"""The explorer page at "/" of actd's HTTP port, driven in headless Chromium
(Debian's chromium and chromium-driver, through Selenium) against a real actd:
a curve of f and of f' per selected activation, each point computed by actd
(equal to the native API's Forward/Backward of the same x, bit for bit); the
property table equal to ListActivations; moving a slider issues new infer
calls and changes the curve. Saves a screenshot (argument 2, or
explorer.png in the working directory).
"""

import math
import os
import shutil
import sys
import tempfile
import time
import unittest

import numpy as np

import oip_common as c
from oip_common import h

from google.protobuf import json_format

SCREENSHOT = "explorer.png"


def js_string(v):
    """String(v) as JavaScript writes it, for values of proto3 JSON."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "; ".join(js_string(e) for e in v)
    if isinstance(v, float):
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


class ExplorerTest(h.ActdTestCase):

    @classmethod
    def setUpClass(cls):
        c.generate_stubs()

    def setUp(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        self.http_port = h.free_ports(1)[0]
        self.server = self.start("--http_port", self.http_port)
        profile = tempfile.mkdtemp(prefix="actd-chromium-")
        self.addCleanup(shutil.rmtree, profile, ignore_errors=True)
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--user-data-dir=" + profile):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                       options=options)
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(20)
        self.driver.set_script_timeout(20)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait_for(self, script, what, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; page status: %r" % (
            what, self.js("return document.getElementById('status').textContent")))

    def curves_ready(self, names):
        return self.wait_for(
            "const s = window.actdExplorer && window.actdExplorer.state;"
            "return s && %r.every(n => s.curves[n] && "
            "document.querySelector('#plot-f path[data-model=\"' + n + '\"]'))" % names,
            "curves of %s" % names)

    def path_d(self, plot, name):
        return self.js("return document.querySelector('#%s path[data-model=\"%s\"]')"
                       ".getAttribute('d')" % (plot, name))

    def test_explorer(self):
        self.driver.get("http://127.0.0.1:%d/" % self.http_port)
        self.assertEqual(self.driver.title, "actd explorer")
        self.curves_ready(["relu", "gelu", "swish"])
        for name in ("elu", "tanh"):
            self.driver.find_element("id", "select-" + name).click()
        selected = ["relu", "elu", "tanh", "gelu", "swish"]
        self.curves_ready(selected)

        # One curve of f and one of f' per selected activation, 401 points each.
        for plot in ("plot-f", "plot-df"):
            paths = self.js("return [...document.querySelectorAll('#%s path')]"
                            ".map(p => [p.dataset.model, p.dataset.points])" % plot)
            self.assertEqual(sorted(paths), sorted([n, "401"] for n in selected))

        # The points are actd's: the native API's Forward and Backward of x.
        stub = self.server.stub()
        for name in selected:
            curve = self.js("return window.actdExplorer.state.curves[%r]" % name)
            x = np.array(curve["x"], np.float64)
            case = c.Case(name, x, {}, {}, None)
            self.assertEqual(c.bits(np.array(curve["y"], np.float64)), c.bits(c.native(stub, case, False)["y"]))
            self.assertEqual(c.bits(np.array(curve["dy"], np.float64)),
                             c.bits(c.native(stub, case, True)["grad_input"]))

        # The property table: a column per selected activation, every cell
        # equal to ListActivations.
        infos = {a.name: json_format.MessageToDict(
            a, preserving_proto_field_name=True, including_default_value_fields=True)
            for a in stub.ListActivations(h.pb.ListActivationsRequest(), timeout=5).activations}
        columns = self.js("return [...document.querySelectorAll('#properties th[data-model]')]"
                          ".map(t => t.dataset.model)")
        self.assertEqual(sorted(columns), sorted(selected))
        rows = self.js("return [...document.querySelectorAll('#properties tr[data-field]')].map("
                       "r => [r.dataset.field, [...r.querySelectorAll('td')].map("
                       "d => [d.dataset.model, d.textContent])])")
        fields = [f for f, _ in rows]
        for needed in ("nonlinear", "smooth", "kinks", "cost", "saturates_left",
                       "saturates_right", "monotonic", "learnable_parameter_count",
                       "range_min", "range_max", "zero_centered", "formula", "reference"):
            self.assertIn(needed, fields)
        for field, cells in rows:
            for name, text in cells:
                info = infos[name]
                value = info[field] if field in info else info["properties"][field]
                self.assertEqual(text, js_string(value), (name, field))

        # A slider: a new infer call, a different curve.
        calls = self.js("return window.actdExplorer.inferCalls")
        before = self.path_d("plot-f", "elu")
        self.js("const s = document.querySelector('input[data-model=\"elu\"][data-param=\"alpha\"]');"
                "s.value = 3; s.dispatchEvent(new Event('input'));")
        self.wait_for("return window.actdExplorer.inferCalls >= %d && "
                      "document.querySelector('#plot-f path[data-model=\"elu\"]')"
                      ".getAttribute('d') !== %r" % (calls + 2, before), "the elu curve to change")
        curve = self.js("return window.actdExplorer.state.curves['elu']")
        case = c.Case("elu", np.array(curve["x"], np.float64), {"alpha": 3.0}, {}, None)
        self.assertEqual(c.bits(np.array(curve["y"], np.float64)), c.bits(c.native(stub, case, False)["y"]))
        self.assertEqual(self.js("return document.getElementById('status').textContent"), "")
        self.driver.save_screenshot(SCREENSHOT)
        self.assertGreater(os.path.getsize(SCREENSHOT), 10000)


if __name__ == "__main__":
    h.ACTD = sys.argv.pop(1) if len(sys.argv) > 1 else h.ACTD
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        SCREENSHOT = sys.argv.pop(1)
    unittest.main(verbosity=2)
