// Saves answers as they change, so a closed browser loses nothing; submits when time runs out.
(function () {
  const form = document.getElementById("attempt-form");
  if (!form) return;
  const status = document.getElementById("save-status");
  let timer = null;

  function save() {
    return fetch(form.dataset.saveUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (data) {
        status.textContent = data.message;
        if (!data.is_open) window.location.reload();
      });
    }).catch(function () { status.textContent = status.dataset.failed || "!"; });
  }

  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(save, 300);
  });
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(save, 1500);
  });
  form.addEventListener("submit", function () {
    clearTimeout(timer);
    document.getElementById("submit-attempt").disabled = true;
  });

  const clock = document.querySelector(".timer");
  if (clock) {
    const end = Date.now() + Number(clock.dataset.seconds) * 1000;
    const out = document.getElementById("time-left");
    (function tick() {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      out.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left === 0) form.submit();
      else setTimeout(tick, 1000);
    })();
  }
})();
