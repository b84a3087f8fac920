from membervault.cli import main

main()
