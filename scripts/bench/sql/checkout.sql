-- r2d2 tests every connection it hands out (test_on_check_out): one round trip per request.
SELECT 1;
