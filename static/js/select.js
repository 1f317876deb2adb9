// Fields marked data-select-on-focus (a secret or a token shown once) select their whole value when focused,
// so one copy takes all of it. A file rather than onfocus="...": the Content-Security-Policy allows no inline script.
document.addEventListener("focusin", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.hasAttribute("data-select-on-focus")) {
    event.target.select();
  }
});
